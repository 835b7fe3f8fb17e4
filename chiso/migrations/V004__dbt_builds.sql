-- What chiso records about dbt builds (chiso/transform/):
--   dbt_builds       every successful build: a publication made later from the CLI names the
--                    dbt invocation that built the audit rows it publishes;
--   dbt_build_state  the fingerprint of the dbt project as of the last build that included
--                    the reference nodes: a monthly build skips them while it is unchanged.

create table if not exists ops.dbt_builds (
    invocation_id    text primary key,
    finished_at      timestamptz not null default now(),
    build_month      date,
    full_refresh     boolean not null,
    elapsed_seconds  double precision,
    statuses         jsonb not null
);
comment on table ops.dbt_builds is 'Every successful dbt build run by chiso.';

create table if not exists ops.dbt_build_state (
    item         text primary key,
    fingerprint  text not null,
    built_at     timestamptz not null
);
comment on table ops.dbt_build_state is
    'Fingerprint of the dbt project when its reference nodes were last built and tested.';

grant select, insert, update on ops.dbt_builds, ops.dbt_build_state to :"transformer";
