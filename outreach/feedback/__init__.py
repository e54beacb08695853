"""Feedback from the providers: inbound texts, status callbacks, email events."""
