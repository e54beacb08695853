"""Audiences (the lists people opt in to): contact details, audience settings, CSV imports."""
