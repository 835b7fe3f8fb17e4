-- The unmet expectations a suite marks "severity": "warning" (chiso/quality/gate.py): kept
-- with the validation, with their sample rows, beside the failures; they do not stop a month.

alter table ops.gate_results add column if not exists warnings jsonb not null default '[]';
comment on column ops.gate_results.warnings is
    'Unmet warning-severity expectations (e.g. a summary report that does not add up), '
    'with sample rows; they do not stop publication.';
