"""Identification of the poor: targeting rules as data, scoring, rounds, validation, decisions."""
