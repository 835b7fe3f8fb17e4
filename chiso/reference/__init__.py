"""Reference data: administrative units, agencies, their lineage and the working-day calendar.

The CSV seeds under ``dbt_project/seeds/`` are the single source of truth; ``build_seeds``
regenerates them from two PyPI packages that the project itself never needs at runtime
(see ``docs/reference-data.md``). ``units`` and ``calendar`` read the committed seeds.
"""
