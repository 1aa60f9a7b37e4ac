"""What if: a year of claims re-settled under other policies, budget projections, policy differences."""
