"""The synthetic province: a registry, enrolment, providers and a year of claims, deterministic from a seed."""
