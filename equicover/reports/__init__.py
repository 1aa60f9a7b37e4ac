"""reports (issue 7)."""
