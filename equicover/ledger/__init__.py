"""The fund ledger: funds, their accounts and double-entry postings (append-only), balances and flows."""
