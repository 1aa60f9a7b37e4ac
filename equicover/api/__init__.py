"""The HTTP service (issue 4): FastAPI application, dependencies, routers of each domain."""
