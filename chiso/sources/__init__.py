"""Canonical schemas of the three source systems (the contract between simulators and ingest)."""
