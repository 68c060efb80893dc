"""The API's OpenAPI description (`/api/openapi.json`) and the page that shows it
(`/api/docs`): one operation per route, checked against the router at start-up."""
