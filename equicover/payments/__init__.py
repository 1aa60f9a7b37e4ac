"""payments (issue 7)."""
