"""Transformations: dbt runs against the warehouse."""
