"""Users, API tokens, roles and area scoping."""
