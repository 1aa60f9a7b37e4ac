"""care (issue 7)."""
