-- Reference data as a pipeline (chiso/reference/, docs/reference-data.md): the files an
-- operator edits are read, staged in reference_candidate (as text, with the row of the file
-- each came from), validated there by the GX suites of expectations/reference/, and only then
-- loaded into reference, which dbt reads as its source `reference`. A load replaces every
-- table in one transaction, so dbt and ingest see one version or the next, never a mix.
-- The loader loads them (as it lands source data); the transformer and ingest read them.

create schema if not exists reference;
create schema if not exists reference_candidate;

grant usage on schema reference to :"loader", :"transformer";
-- the candidates are made anew by every load, as text: a value that does not parse is
-- reported by the suites with its row, not refused by a cast
grant usage, create on schema reference_candidate to :"loader";
grant usage on schema reference_candidate to :"transformer";
alter default privileges for role :"loader" in schema reference_candidate
    grant select on tables to :"transformer";

create table if not exists reference.admin_units (
    unit_key         text primary key,
    unit_code        text not null,
    unit_name        text not null,
    unit_level       text not null,
    parent_unit_key  text,
    valid_from       date not null,
    valid_to         date,
    code_system      text not null
);

create table if not exists reference.admin_unit_lineage (
    from_unit_key   text not null,
    to_unit_key     text not null,
    relation        text not null,
    effective_date  date not null,
    primary key (from_unit_key, to_unit_key)
);

create table if not exists reference.agencies (
    agency_code         text not null,
    agency_name         text not null,
    tier                text not null,
    province_code       text not null,
    province_name       text,
    parent_agency_code  text,
    valid_from          date not null,
    valid_to            date,
    agency_key          text primary key,
    unit_key            text not null,
    agency_kind         text not null
);
create index if not exists agencies_code on reference.agencies (agency_code);

create table if not exists reference.agency_lineage (
    from_agency_key  text not null,
    to_agency_key    text not null,
    relation         text not null,
    effective_date   date not null,
    primary key (from_agency_key, to_agency_key)
);

create table if not exists reference.public_holidays (
    day           date primary key,
    holiday_name  text not null,
    source        text not null
);

create table if not exists reference.holiday_overrides (
    day          date primary key,
    is_day_off   boolean not null,
    description  text,
    legal_basis  text
);

create table if not exists reference.indicator_targets (
    indicator_code         text not null,
    province_code          text,  -- none: a national target
    tier                   text not null,
    year_from              integer not null,
    year_to                integer not null,
    target_value           numeric not null,
    comparator             text not null,
    source_document        text not null,
    denominator_in_source  text not null
);

create table if not exists reference.annual_index_values (
    indicator_code   text not null,
    province_code    text not null,
    year             integer not null,
    index_version    text not null,
    value            numeric,
    rank             integer,
    rank_of          integer,
    source_document  text not null,
    primary key (indicator_code, province_code, year, index_version)
);

grant select, insert, delete, truncate on all tables in schema reference to :"loader";
grant select on all tables in schema reference to :"transformer";

-- Every load that changed something: the files' digests, what the change touches (the
-- periods rebuilt), who loaded it, and when its rebuild finished.
create table if not exists ops.reference_versions (
    version_id    bigint generated always as identity primary key,
    loaded_at     timestamptz not null default clock_timestamp(),
    loaded_by     text not null default current_user,
    origin        text not null,
    fingerprint   text not null,
    files         jsonb not null,
    changes       jsonb not null,
    rebuilt_at    timestamptz
);
comment on table ops.reference_versions is
    'Each load of the reference files that changed the reference schema: the digest of every '
    'file, the rows changed per table and the periods they touch, and when the rebuild of those '
    'periods finished (null: not yet).';
grant select, insert, update on ops.reference_versions to :"loader", :"transformer";

-- Months to pull again whole, asked for by something other than a released correction hold:
-- a reference load that added the agency code of records ingest had parked as unknown
-- (chiso/ingest/agency_codes.py). The next pull of the entity re-pulls them and marks them.
create table if not exists ops.repull_requests (
    entity         text not null,
    extract_month  date not null,
    reason         text not null,
    requested_at   timestamptz not null default now(),
    repulled_at    timestamptz
);
create unique index if not exists repull_requests_open
    on ops.repull_requests (entity, extract_month) where repulled_at is null;
grant select, insert, update on ops.repull_requests to :"loader";
grant select on ops.repull_requests to :"transformer";
