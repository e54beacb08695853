"""Consent: the ledger, subscriptions, suppressions, the may-we-contact decision,
sign-ups and confirmations, keywords, wording, signed links, evidence and privacy."""
