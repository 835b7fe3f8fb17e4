-- Deployments that pull each province's own installation of the source systems
-- (CHISO_SOURCE_PROVINCES, chiso/sources/systems.py): what was per source entity becomes per
-- (entity, province), the province '' standing for a deployment's single installation.
--   ingest_watermarks  one change watermark per installation: provinces pull at their own pace
--   ingest_batches     the installation a delivery came from (null: a file, or the single one)
--   repull_requests    the province whose installation must pull the month again (null: the
--                      single installation)

alter table ops.ingest_watermarks add column if not exists province text not null default '';
comment on column ops.ingest_watermarks.province is
    'The province whose installation of the source system this watermark is for; empty: the '
    'deployment''s single installation.';
alter table ops.ingest_watermarks drop constraint if exists ingest_watermarks_pkey;
alter table ops.ingest_watermarks add primary key (entity, province);

alter table raw.ingest_batches add column if not exists source_province text;
comment on column raw.ingest_batches.source_province is
    'API pulls of a deployment of several provinces: the province whose installation answered '
    '(its pull replaced that province''s agencies only).';

alter table ops.repull_requests add column if not exists province_code text;
comment on column ops.repull_requests.province_code is
    'The province of the agency code the request is for (the reference data''s), so that in a '
    'deployment of several provinces that province''s installation pulls the month again.';
drop index if exists ops.repull_requests_open;
create unique index if not exists repull_requests_open
    on ops.repull_requests (entity, extract_month, coalesce(province_code, ''))
    where repulled_at is null;
