"""CSV imports into an audience: settings, reading, the import pass, web jobs."""
