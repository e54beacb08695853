"""``flask outreach ...`` (also the installed ``outreach`` command), one module per area."""
