"""Anomaly detection over stored claims: robust z-scores, rules and an isolation forest; the flags they raise."""
