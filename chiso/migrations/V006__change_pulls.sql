-- Pulling by change (chiso/ingest/changes.py, docs/architecture.md "Cadence"):
--   ingest_watermarks  per source entity, the end of the last change window whose load
--                      committed: the next pull asks for the records changed since then.
--                      Written in the same transaction as the rows it lands, so it never
--                      runs ahead of raw.
--   correction_holds   an agency-month an operator corrected by file: later pulls leave its
--                      rows alone (and say so in the ledger) until an operator releases it.
-- The ledger gains the change window a delivery asked for; a change delivery has one batch
-- per month it touched (its delivery_id groups them).

grant usage on schema ops to :"loader";

create table if not exists ops.ingest_watermarks (
    entity        text primary key,
    source        text not null,
    changed_to    timestamp not null,
    delivery_id   uuid,
    updated_at    timestamptz not null default now()
);
comment on table ops.ingest_watermarks is
    'Per source entity pulled by change: the end of the last committed change window, in the '
    'source''s local time (Asia/Ho_Chi_Minh).';
comment on column ops.ingest_watermarks.changed_to is
    'Records changed before this instant (source local time) are in raw.';

create table if not exists ops.correction_holds (
    entity        text not null,
    agency_code   text not null,
    extract_month date not null,
    batch_id      uuid not null,
    held_at       timestamptz not null default now(),
    released_at   timestamptz,
    released_by   text,
    repulled_at   timestamptz,
    primary key (entity, agency_code, extract_month, batch_id)
);
create index if not exists correction_holds__active_idx on ops.correction_holds
    (entity, extract_month) where released_at is null;
comment on table ops.correction_holds is
    'An agency-month whose rows came from an operator''s corrected file: pulls do not '
    'overwrite it until released (chiso corrections release).';

alter table raw.ingest_batches add column if not exists changed_from timestamp;
alter table raw.ingest_batches add column if not exists changed_to timestamp;
comment on column raw.ingest_batches.changed_from is
    'Change pulls: start of the window asked for (source local time).';

grant select, insert, update on ops.ingest_watermarks, ops.correction_holds to :"loader";
grant select on ops.ingest_watermarks, ops.correction_holds to :"transformer";
