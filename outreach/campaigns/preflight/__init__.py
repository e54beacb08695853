"""Preflight: the rules a campaign must pass before it can be scheduled."""
