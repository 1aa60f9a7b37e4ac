"""Enrolment: schemes, enrolment periods, enrolments of persons and their contributions."""
