"""The demo of a whole province: generate, cover, settle, store, verify, pay, report, then serve."""
