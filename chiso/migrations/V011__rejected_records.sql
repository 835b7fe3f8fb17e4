-- Records an API pull could not take (chiso/ingest/rejects.py): a malformed value, a missing
-- required field, a record outside the pull's window, a child whose parent was rejected.
-- Parked here, with what was wrong, so that one bad record never fails a pull of thousands;
-- above a threshold the pull fails instead (docs/runbook.md, "Rejected records"). The gate of
-- a record's month reports them (suite ingest_rejects); a later pull that brings the record
-- whole removes it from here. `record` is the row as raw would have held it (personal data
-- included, like raw); `problem` names field and layout, never the value.

create table if not exists raw.rejected_records (
    reject_id      bigint generated always as identity primary key,
    delivery_id    uuid not null,
    source         text not null,
    entity         text not null,
    origin         text not null,
    record_key     text,
    row_number     integer,
    field          text,
    problem        text not null,
    record_month   date not null,
    record         jsonb not null,
    rejected_at    timestamptz not null default now()
);
create index if not exists rejected_records_month on raw.rejected_records (record_month);
create index if not exists rejected_records_key on raw.rejected_records (entity, record_key);
comment on table raw.rejected_records is
    'Records an API pull parked instead of landing (malformed, outside the window, orphaned): '
    'what was wrong (problem, field; never the value) and the record as sent.';

grant select, insert, delete on raw.rejected_records to :"loader";
grant select on raw.rejected_records to :"transformer";
