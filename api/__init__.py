"""The surfaces: the FastAPI app, auth, routes, pages and the CLI."""
