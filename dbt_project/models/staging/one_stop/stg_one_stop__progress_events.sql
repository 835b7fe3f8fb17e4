-- One row per progress update (CapNhatTienDo) of a dossier: renamed and typed. The acting
-- officer's name is personal data: only its keyed hash (officer_key) leaves raw.
-- A table, not a view: the keyed hash needs the key, which only dbt's session holds, so it is
-- computed once at build time and readers (GX, BI, analysts) never need the key.
-- Incremental by delivery (macros/incremental/restage.sql): a run restages the months
-- with new batches, so its cost follows the new month, not the history.
{{ config(
    unique_key='dossier_id',
    indexes=[
        {'columns': ['dossier_id']},
        {'columns': ['_built_at']},
        {'columns': ['_batch_id']},
        {'columns': ['_extract_month']},
    ],
    post_hook="{{ prune_vanished(source('one_stop', 'progress_events')) }}",
) }}

with

-- `source` and `latest_delivery` (macro staged_source): an event repeated in what raw holds (re-
-- sent file, duplicate page) keeps its last copy
{{ staged_source(
    source('one_stop', 'progress_events'),
    latest_by=[
        "trim(ma_ho_so)",
        "raw.parse_vn_int(thu_tu)",
    ],
    upstream_key='trim(ma_ho_so)',
    key='dossier_id',
) }},

renamed as (

    select
        nullif(trim(ma_ho_so), '') as dossier_id,
        raw.parse_vn_int(thu_tu)::int as event_sequence,
        nullif(trim(don_vi_xu_ly), '') as agency_code,
        nullif(trim(buoc_xu_ly), '') as step_name,
        nullif(trim(trang_thai), '') as status_value,
        {{ parse_source_timestamp('thoi_diem') }} as occurred_at,
        {{ pii_hash('can_bo_xu_ly') }} as officer_key,
        _batch_id,
        _extract_month,
        _loaded_at
    from latest_delivery

),

value_codes as (

    select * from {{ source('ingest', 'value_codes') }}

),

-- a status printed as a word ("Đang xử lý"): its code as ingest recorded it
coded as (

    select
        renamed.*,
        {{ value_code('status_codes', 'renamed.status_value') }}::int as status_code
    from renamed
    {{ join_value_codes(
        'status_codes', 'one_stop.progress_events.trang_thai', 'renamed.status_value'
    ) }}

),

final as (

    select
        dossier_id,
        event_sequence,
        agency_code,
        step_name,
        status_code,
        -- same names as stg_one_stop__dossiers.status
        case status_code
            when 1 then 'submitted'
            when 2 then 'accepted'
            when 3 then 'not_accepted'
            when 4 then 'in_progress'
            when 5 then 'awaiting_supplement'
            when 6 then 'awaiting_payment'
            when 7 then 'withdrawn'
            when 8 then 'stopped'
            when 9 then 'resolved'
            when 10 then 'result_returned'
        end as status,
        occurred_at,
        officer_key,
        _batch_id,
        _extract_month,
        _loaded_at,
        {{ chiso_run_started_at() }} as _built_at
    from coded

)

select * from final
