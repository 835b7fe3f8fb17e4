"""Ingest: pull source-system data into the raw landing zone."""
