"""A whole campaign as one YAML file: parse, check, load, export (byte-identical round trip)."""
