"""Administration: accounts named by area and facility codes, the audit trail, demo accounts."""
