"""The care ledger of the registered poor: chronic conditions, family-doctor contracts, health checks."""
