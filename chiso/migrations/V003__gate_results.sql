-- Every validation of a month by the quality gate (chiso/quality/): the verdict, the failing
-- expectations with sample rows (cut to each suite's sample_columns: no personal data), the
-- alerts sent, and the fingerprint of the audit rows it read, which publication checks.

create table if not exists ops.gate_results (
    gate_run_id        uuid,
    validated_at       timestamptz not null default now(),
    period_month       date not null,
    success            boolean not null,
    evaluated          integer not null,
    failures           jsonb not null,
    dbt_invocation_id  text,
    data_docs          text,
    alerts             jsonb,
    audit_fingerprint  text
);
create unique index if not exists gate_results__run_idx on ops.gate_results (gate_run_id);
comment on table ops.gate_results is
    'Each validation of a month by the quality gate, with its failing expectations, sample '
    'rows, the alerts sent and the fingerprint of the audit rows it read.';

grant select, insert, update on ops.gate_results to :"transformer";
