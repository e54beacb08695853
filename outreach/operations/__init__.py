"""What operators watch: Prometheus metrics (metrics), worker heartbeats (heartbeats) and
the deep health check (health). Nothing here holds personal data, in rows or labels."""
