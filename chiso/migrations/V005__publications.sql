-- Publication (chiso/publish/): each publication of a month is a revision. The rows of every
-- revision stay in marts.<mart>__revisions (created by publication, since their columns follow
-- the dbt marts); these tables say which revisions exist, which one is current per month, and
-- what each republication changed. BI tools read them through the two views in marts.

create table if not exists ops.publications (
    publication_id     uuid primary key,
    period_month       date not null,
    revision           integer not null,
    published_at       timestamptz not null default now(),
    row_count          integer not null,
    dbt_invocation_id  text,
    git_sha            text,
    gate_success       boolean not null,
    forced_reason      text,
    gate_run_id        uuid,
    published_by       text,
    previous_revision  integer,
    changed_rows       integer,
    unique (period_month, revision)
);
comment on table ops.publications is 'Every revision published of every month.';

create table if not exists ops.publication_heads (
    period_month    date primary key,
    revision        integer not null,
    publication_id  uuid not null references ops.publications
);
comment on table ops.publication_heads is 'The current revision of each published month.';

create table if not exists ops.publication_changes (
    publication_id   uuid not null references ops.publications,
    mart             text not null,
    change           text not null check (change in ('added', 'removed', 'changed')),
    row_key          jsonb not null,
    changed_columns  text[] not null,
    old_row          jsonb,
    new_row          jsonb
);
create index if not exists publication_changes__publication_idx
    on ops.publication_changes (publication_id);
comment on table ops.publication_changes is
    'The rows a republication changed against the revision it replaced.';

grant select, insert, update on ops.publications, ops.publication_heads to :"transformer";
grant select, insert on ops.publication_changes to :"transformer";

-- What BI tools and the report read about publications: views in marts, so the BI role
-- reads them without any right on ops.
create or replace view marts.kpi_publications as
select
    p.period_month, p.revision, p.published_at, p.row_count, p.changed_rows,
    p.previous_revision, p.gate_success, p.forced_reason, p.published_by, p.git_sha,
    p.dbt_invocation_id, p.gate_run_id, p.publication_id,
    h.revision is not null as is_current
from ops.publications as p
left join ops.publication_heads as h on h.publication_id = p.publication_id;

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
inner join ops.publications as p on p.publication_id = c.publication_id;

grant select on marts.kpi_publications, marts.kpi_revision_changes to :"transformer", :"bi_reader";
