"""Organisations that run a programme in an area: HEF operators, responsible organisations."""
