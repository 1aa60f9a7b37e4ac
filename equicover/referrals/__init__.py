"""Referral letters: issued by a facility, valid for the days the policy sets, answered by a counter-referral."""
