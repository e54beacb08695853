"""Benchmarks and the load / fault harness (issue 8).

Each module runs alone (``python -m bench.fanout`` ...) and prints its figures next to the
baseline measured in the same run; ``python -m bench.run_all`` (``make bench``) runs them
all and prints one table. See bench/README.md.
"""
