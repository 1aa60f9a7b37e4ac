"""anomaly (issue 7)."""
