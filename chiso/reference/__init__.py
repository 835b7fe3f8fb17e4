"""Reference data as a pipeline: the files an operator edits (agencies and their versions and
lineage, administrative units, holidays and make-up days, targets, annual indices), read,
staged for validation, and loaded into the warehouse's ``reference`` schema, which dbt reads
as a source (docs/reference-data.md, "Changing reference data")."""
