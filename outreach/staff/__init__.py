"""Who may use the staff workspace: accounts and passwords, two-factor sign-in, invitation
and reset links, lockout, session limits, API tokens and the audit log."""
