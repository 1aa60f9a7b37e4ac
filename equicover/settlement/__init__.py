"""Settlement: split each hospital bill among a programme's payers and the member, from a policy file."""
