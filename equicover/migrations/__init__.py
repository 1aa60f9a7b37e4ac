"""Alembic migrations: the only way equicover creates and changes its tables."""
