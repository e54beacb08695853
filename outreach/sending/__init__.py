"""The sending pipeline, one file per step: materialise, claim, compose, send, record;
outage handling, step health, and the loop that runs them (run)."""
