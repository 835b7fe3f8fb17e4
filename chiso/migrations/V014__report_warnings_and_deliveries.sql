-- The monthly report (chiso/report/): what its data-quality section reads about the gate, and
-- the ledger of where each revision's report files were delivered.

-- The unmet warning-severity expectations of the validation each revision was published on
-- (ops.gate_results.warnings), without their sample rows: a definer view of ops, so the BI
-- reader reads it without any right on ops. Sample rows name agencies, so a scoped login
-- (ops.access_scopes) reads none of it.
create or replace view marts.kpi_publication_warnings with (security_barrier) as
select
    p.period_month,
    p.revision,
    h.revision is not null as is_current,
    w.value ->> 'suite' as suite,
    w.value ->> 'expectation' as expectation,
    coalesce(w.value ->> 'description', w.value ->> 'expectation') as description,
    -- how many rows failed: a count, or the count inside GX's result object (whose
    -- partial_unexpected_list holds sample values, not shown)
    case jsonb_typeof(w.value -> 'observed')
        when 'object' then w.value -> 'observed' ->> 'unexpected_count'
        else w.value ->> 'observed'
    end as observed
from ops.publications as p
inner join ops.gate_results as g on g.gate_run_id = p.gate_run_id
cross join lateral jsonb_array_elements(g.warnings) as w (value)
left join ops.publication_heads as h on h.publication_id = p.publication_id
where (select s.everything from marts.access_scope() as s);
comment on view marts.kpi_publication_warnings is
    'Warnings of the gate each revision was published on (not for scoped logins).';
grant select on marts.kpi_publication_warnings to :"transformer", :"bi_reader";

-- One row per report file delivered on a channel (a folder, an e-mail): a rerun of the
-- delivery for the same revision sends nothing again; a republication (a new revision) is
-- delivered anew. Recipients are kept as a hash: an address is personal data.
create table if not exists ops.report_deliveries (
    period_month     date not null,
    revision         integer not null,
    channel          text not null,
    target_hash      text not null,
    file_name        text not null,
    sha256           text not null,
    delivered_at     timestamptz not null default now(),
    primary key (period_month, revision, channel, target_hash, file_name)
);
comment on table ops.report_deliveries is
    'Report files delivered per revision and channel (chiso/report/delivery.py).';
comment on column ops.report_deliveries.target_hash is
    'sha256 of the folder path or of the sorted recipient addresses, never the addresses.';
grant select, insert, update on ops.report_deliveries to :"transformer";
