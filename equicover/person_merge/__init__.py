"""Merging duplicate persons: each domain moves its own rows; this package runs the whole merge."""
