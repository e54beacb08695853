"""Placeholder until the campaign file commands land (being written)."""

from flask.cli import AppGroup

campaign_cli = AppGroup("campaign", help="Campaigns as YAML files.")
