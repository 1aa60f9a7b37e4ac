"""Database foundation: settings, engine, sessions, declarative base and Alembic migrations."""
