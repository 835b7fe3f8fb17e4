-- The ingest ledger: one row per delivery attempt (a file, or an API pull of one entity for
-- one month), written by `chiso ingest` in the same transaction as the rows it lands. dbt's
-- incremental staging reads it to know which months to restage (docs/incremental.md), and the
-- gate and the runbook read it to say what arrived.

create table if not exists raw.ingest_batches (
    batch_id        uuid primary key,
    delivery_id     uuid,
    source          text not null,
    entity          text,
    target_table    text not null,
    extract_month   date,
    channel         text,
    origin          text not null,
    file_name       text,
    content_sha256  text,
    agency_codes    text[],
    replace_scope   text,
    row_count       integer,
    first_load_seq  bigint,
    status          text not null,
    error           text,
    error_row       integer,
    error_field     text,
    duplicate_of    uuid,
    replaced_by     uuid,
    replaced_rows   integer,
    extra_columns   text[],
    warnings        jsonb,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    constraint ingest_batches_status_check check (status in
        ('running', 'loaded', 'replaced', 'failed', 'duplicate', 'quarantined'))
);
create index if not exists ingest_batches__sha_idx on raw.ingest_batches
    (target_table, content_sha256);
comment on table raw.ingest_batches is
    'Ledger of every delivery attempt: loaded, replaced by a later delivery, duplicate '
    '(same content as an earlier load), failed or quarantined, with the error naming '
    'row and field.';

grant select, insert, update, delete on raw.ingest_batches to :"loader";
grant select on raw.ingest_batches to :"transformer";
