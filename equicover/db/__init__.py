"""Database foundation: settings, engine, sessions, the declarative base, bulk writes and running the migrations."""
