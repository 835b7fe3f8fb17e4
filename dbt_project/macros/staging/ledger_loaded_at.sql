{#
    Source freshness from the ingest ledger: when the source table (`this`, rendered when
    freshness runs) last had a delivery loaded. `chiso ingest` is raw's only writer and
    records each load in raw.ingest_batches in the same transaction as the rows, so this is
    max(_loaded_at) of the table without reading the table's every partition.
#}
{% macro ledger_loaded_at() -%}
    select max(ledger.finished_at)
    from {{ source('ingest', 'batches') }} as ledger
    where ledger.target_table = '{{ this.schema }}.{{ this.identifier }}'
        and ledger.status = 'loaded'
{%- endmacro %}
