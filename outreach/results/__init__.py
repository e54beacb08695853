"""Campaign results for staff, the CLI and the API."""
