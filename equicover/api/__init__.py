"""The HTTP application: FastAPI, every domain's router, FHIR and the web pages; `equicover serve`."""
