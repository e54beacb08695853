"""Development aids: the dev mailbox of the console channels."""
