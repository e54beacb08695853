"""Staff accounts, API tokens and the audit log."""
