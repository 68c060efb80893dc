"""The OpenAPI document describes every route of the application (it is not built
otherwise), is a valid OpenAPI 3.1 document, and says who may call each operation as the
route rules do."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from farmwatch.web.authorization import routes_of
from farmwatch.web.openapi.document import OpenApiError, build_document, check_operations
from farmwatch.web.openapi.examples import BODY_EXAMPLES, QUERY_EXAMPLES
from farmwatch.web.openapi.operations import NOT_DESCRIBED, OPERATIONS
from farmwatch.web.route_rules import ROUTE_RULES, RouteKey, Who
from tests.unit.web.test_route_rules import build

DOCUMENT = build_document(ROUTE_RULES)


def test_every_route_but_the_pages_has_an_operation() -> None:
    routes = routes_of(build())
    assert set(OPERATIONS) == routes - NOT_DESCRIBED
    assert routes >= NOT_DESCRIBED  # no stale exemption


def test_a_route_without_an_operation_stops_the_application_being_built() -> None:
    forgotten = RouteKey("POST", "/api/users/{user_id}/unlock")
    missing = {key: op for key, op in OPERATIONS.items() if key != forgotten}
    with pytest.raises(OpenApiError, match=r"POST /api/users/\{user_id\}/unlock: no OpenAPI"):
        check_operations(routes_of(build()), missing)
    with pytest.raises(OpenApiError, match="an OpenAPI operation for no route"):
        check_operations(routes_of(build()) - {forgotten})


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(DOCUMENT)
    assert DOCUMENT["openapi"].startswith("3.1")


def test_each_operation_has_its_path_parameters_security_and_answers() -> None:
    for key in OPERATIONS:
        operation = DOCUMENT["paths"][key.path][key.method.lower()]
        holes = re.findall(r"\{(\w+)\}", key.path)
        named = [p["name"] for p in operation.get("parameters", ()) if p["in"] == "path"]
        assert named == holes, key
        public = ROUTE_RULES[key].who is Who.ANYONE
        assert (operation["security"] == []) is public, key
        statuses = set(operation["responses"])
        assert any(status.startswith("2") for status in statuses), key
        assert {"400", "404"} <= statuses, key
        assert public or {"401", "403"} <= statuses, key
        if key.method in ("POST", "PUT", "DELETE") and not public:
            assert {"bearer": []} in operation["security"], key
            assert {"session": [], "csrf": []} in operation["security"], key


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for path in DOCUMENT["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))


def test_the_document_is_served_and_its_page_is_readable_by_any_principal() -> None:
    assert ROUTE_RULES[RouteKey("GET", "/api/openapi.json")].who is Who.SIGNED_IN
    assert ROUTE_RULES[RouteKey("GET", "/api/docs")].who is Who.SIGNED_IN


def test_the_docs_page_runs_only_its_own_code() -> None:
    from farmwatch.web.routes.apidocs import _PAGE, DOCS_HEADERS

    assert re.search(r"https?://", _PAGE) is None  # no CDN, no renderer fetched at run time
    policy = DOCS_HEADERS["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]{44}';", policy)


def test_each_example_fits_its_operation() -> None:
    for key, example in BODY_EXAMPLES.items():
        request = OPERATIONS[key].request
        assert request is not None, key
        Draft202012Validator(request).validate(example)
    for key, examples in QUERY_EXAMPLES.items():
        queries = {query.name: query.schema for query in OPERATIONS[key].query}
        for name, value in examples.items():
            Draft202012Validator(queries[name]).validate(value)
