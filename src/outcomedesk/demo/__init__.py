"""Demo data: a realistic organisation with months of ticket history, for trying Outcomedesk out."""
