-- What each check of a published month saw (chiso/publish/drift.py): the month's current
-- publication and, per published audit mart, its row count and latest `_built_at`. A close
-- compares every published month with what the warehouse would publish now; a month whose
-- stamp equals the one recorded by the last check holds the same rows against the same
-- revision, so the last check's outcome stands and its rows are not compared again (dbt writes
-- every row it builds with its run's start, later than any before: a rebuilt month gets a
-- later latest `_built_at`, a deleted row a smaller count).

alter table ops.publication_drift add column if not exists audit_stamp text;
comment on column ops.publication_drift.audit_stamp is
    'The current publication and, per published audit mart, the month''s row count and latest '
    '_built_at, as the last check saw them; null: compare again at the next check.';
