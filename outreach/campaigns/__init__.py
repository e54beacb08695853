"""Campaigns: lifecycle and the preflight gate, editing, preview, timeline, delivery
windows, campaign files and preflight rules."""
