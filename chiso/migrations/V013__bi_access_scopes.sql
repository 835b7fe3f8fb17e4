-- BI access scoped by row-level security (chiso/publish/access.py; `chiso access`).
--
-- A scoped login (`chiso access grant NAME --province CODE | --agency CODE`) reads the marts
-- like the BI reader, but only the rows of its province or agency: every table of `marts`
-- holding such rows has row-level security enabled and FORCEd, with a policy comparing the
-- row's province and agency with marts.access_scope(); the views over them are
-- security_invoker, so the policies apply to whoever reads through them. A role without a
-- scope (the BI reader, the transformer that publishes) sees every row.

create table if not exists ops.access_scopes (
    role_name      text primary key,
    province_code  text,
    agency_code    text,
    granted_at     timestamptz not null default now(),
    granted_by     text not null default session_user,
    constraint access_scopes__one_scope check (num_nonnulls(province_code, agency_code) = 1)
);
comment on table ops.access_scopes is
    'The logins that see only one province''s or one agency''s rows of the marts (chiso access).';

-- The scope of the login running the query: one row, `everything` when it has none. Keyed on
-- session_user (the login), since inside a security definer function current_user is the
-- function's owner; a scoped login can switch to no other role.
create or replace function marts.access_scope()
returns table (everything boolean, province_code text, agency_code text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select coalesce(bool_and(false), true), max(s.province_code), max(s.agency_code)
    from ops.access_scopes as s
    where s.role_name = session_user
$$;
comment on function marts.access_scope() is
    'The province or agency the current login is scoped to (everything = no scope).';
revoke all on function marts.access_scope() from public;
grant execute on function marts.access_scope() to :"transformer", :"bi_reader";

-- Which revision of each month is current, for the views over the revision tables: a view
-- of ops (definer) so those views can be security_invoker without any right on ops.
create or replace view marts.kpi_publication_heads as
select period_month, revision from ops.publication_heads;
comment on view marts.kpi_publication_heads is 'The current revision of each published month.';
grant select on marts.kpi_publication_heads to :"transformer", :"bi_reader";

-- The rows each republication changed, as far as the reader's scope reaches (a view of ops:
-- the filter is written out, the rows being JSON of the marts' rows).
create or replace view marts.kpi_revision_changes as
select
    p.period_month, p.revision, p.previous_revision, p.published_at, c.mart, c.change,
    c.row_key, c.changed_columns, c.old_row, c.new_row,
    coalesce(c.new_row, c.old_row) ->> 'calendar' as calendar,
    coalesce(c.new_row, c.old_row) ->> 'agency_code' as agency_code,
    coalesce(c.new_row, c.old_row) ->> 'agency_name' as agency_name,
    coalesce(c.new_row, c.old_row) ->> 'indicator_code' as indicator_code,
    coalesce(c.new_row, c.old_row) ->> 'indicator_name_vi' as indicator_name_vi,
    coalesce(c.new_row, c.old_row) ->> 'unit' as unit,
    (c.old_row ->> 'value')::numeric as old_value,
    (c.new_row ->> 'value')::numeric as new_value,
    (c.old_row ->> 'numerator')::numeric as old_numerator,
    (c.new_row ->> 'numerator')::numeric as new_numerator,
    (c.old_row ->> 'denominator')::numeric as old_denominator,
    (c.new_row ->> 'denominator')::numeric as new_denominator
from ops.publication_changes as c
inner join ops.publications as p on p.publication_id = c.publication_id
cross join marts.access_scope() as scope
where scope.everything
    or coalesce(c.new_row, c.old_row) ->> 'province_code' = scope.province_code
    or coalesce(c.new_row, c.old_row) ->> 'reporting_unit_code'
        in (scope.province_code, scope.agency_code)
    or coalesce(c.new_row, c.old_row) ->> 'agency_code' = scope.agency_code;
