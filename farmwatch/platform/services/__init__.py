"""Application services of the platform: devices, live view."""
