"""Providers (health facilities) and their contracts with schemes."""
