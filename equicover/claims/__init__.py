"""Claims stored in the database: submitted at a provider's window, settled in real time, reversed."""
