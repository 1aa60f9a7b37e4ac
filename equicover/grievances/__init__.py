"""Grievances and appeals: cases from members and providers, deadlines by category, decisions that act."""
