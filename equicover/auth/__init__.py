"""Users, API tokens, roles and area scoping (issue 4)."""
