"""funds (issue 7)."""
