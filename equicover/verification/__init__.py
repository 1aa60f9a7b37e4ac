"""verification (issue 7)."""
