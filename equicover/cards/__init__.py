"""Member cards: numbers with a check digit, validity, status, and a QR payload signed with Ed25519."""
