"""Verification of providers: samples of claims for review, the verifiers' findings, recoveries, scorecards."""
