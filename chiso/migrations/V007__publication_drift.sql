-- Months whose published numbers differ from what the warehouse would publish now
-- (chiso/publish/drift.py). Records change after their month closed (a late resolution,
-- an officer recording a week late); each close rebuilds the months the new data touched,
-- republishes those within the republication window and records here, for every published
-- month it checked, how many agency × indicator rows now differ. Operators read
-- marts.kpi_publication_drift (the runbook, the report's data-quality section).

create table if not exists ops.publication_drift (
    period_month   date primary key,
    pending_rows   integer not null,
    in_window      boolean not null,
    checked_at     timestamptz not null default now(),
    checked_by     date,
    note           text
);
comment on table ops.publication_drift is
    'Per published month, the rows that differ between the warehouse now (audit) and the '
    'current revision, as of the last check; 0 when it is up to date.';
comment on column ops.publication_drift.in_window is
    'Within the republication window of the close that checked it (republished then, unless '
    'its gate failed); outside it, changes are reported, not published.';
comment on column ops.publication_drift.checked_by is 'The month whose close checked it.';

create or replace view marts.kpi_publication_drift as
select period_month, pending_rows, in_window, checked_at, checked_by, note
from ops.publication_drift
where pending_rows > 0;

grant select, insert, update on ops.publication_drift to :"transformer";
grant select on marts.kpi_publication_drift to :"bi_reader", :"transformer";
