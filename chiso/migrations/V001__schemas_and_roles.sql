-- The warehouse's schemas and who may do what in each (docs/architecture.md, "Roles").
--
--   raw                      the loader lands source data as sent (personal data included)
--                            and creates each month's partition of its landing tables
--   staging … audit, marts   the transformer: dbt builds staging, intermediate, snapshots and
--                            audit; publication writes marts
--   ops                      the control plane's own tables (this folder): used, not altered
--
-- Every schema is owned by whoever applies the migrations (the server's administrator), not
-- by a role that writes in it: in PostgreSQL a schema's owner may drop anything in it, and no
-- role must be able to drop the ledger, the publications or the views BI reads. A role gets
-- CREATE where it makes its own tables, and owns only those.
-- The BI reader reads marts and nothing else. Nobody but these may create anything.
-- Roles are psql variables (the runner sets them; with psql: -v loader=chiso_loader …).
-- Against an external server (CHISO_WAREHOUSE_URL) every role is the connecting user.

create schema if not exists raw;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists snapshots;
create schema if not exists audit;
create schema if not exists marts;
create schema if not exists ops;

grant usage, create on schema raw to :"loader";
grant usage, create on schema staging, intermediate, snapshots, audit, marts to :"transformer";

-- who may connect to the database: after_migrate__database_grants.sql
revoke create on schema public from public;

-- the transformer reads what the loader lands, including landing tables created later
grant usage on schema raw to :"transformer";
grant select on all tables in schema raw to :"transformer";
alter default privileges for role :"loader" in schema raw grant select on tables to :"transformer";

-- BI reads the published marts, including revision tables publication creates later
grant usage on schema marts to :"bi_reader";
grant select on all tables in schema marts to :"bi_reader";
alter default privileges for role :"transformer" in schema marts
    grant select on tables to :"bi_reader";

grant usage on schema ops to :"transformer";

-- Which of these files were applied, when and by whom (chiso/runtime/migrations.py).
create table if not exists ops.schema_migrations (
    version      text primary key,
    description  text not null,
    checksum     text not null,
    applied_at   timestamptz not null default clock_timestamp(),
    applied_by   text not null default current_user
);
comment on table ops.schema_migrations is
    'The control-plane migrations applied to this warehouse (chiso/migrations/): V files once, '
    'in order; R files again whenever their text changes.';
grant select on ops.schema_migrations to :"transformer";
