-- The periods this run computes: every period of dim_period that overlaps the data of any
-- source, or with the variable build_month set, only those that also overlap that month, plus
-- every period from the earliest day whose records this run rebuilt (a re-delivered earlier
-- month) onwards (macro build_window_filter), and every period when a restatement share
-- moved (int_agencies__split_shares). A period the data covers only in part is
-- flagged incomplete.
-- A table: computed once per run, then joined by every indicator model.
{{ config(materialized='table') }}
with

periods as (

    select * from {{ ref('dim_period') }}

),

dossiers as (

    select * from {{ ref('stg_one_stop__dossiers') }}

),

documents as (

    select * from {{ ref('stg_documents__movements') }}

),

catalogue as (

    select * from {{ ref('stg_portal__service_catalogue') }}

),

usage as (

    select * from {{ ref('stg_portal__usage') }}

),

dossier_outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}

),

document_movements as (

    select * from {{ ref('int_documents__movements') }}

),

offerings as (

    select * from {{ ref('int_portal__offerings') }}

),

split_shares as (

    select * from {{ ref('int_agencies__split_shares') }}

),

anchor_days as (

    select
        min(received_date) as first_day,
        max(received_date) as last_day
    from dossiers

    union all

    select
        min(sent_or_received_at::date) as first_day,
        max(sent_or_received_at::date) as last_day
    from documents

    union all

    select
        min(snapshot_date) as first_day,
        max(snapshot_date) as last_day
    from catalogue

    union all

    select
        min(usage_month) as first_day,
        (max(usage_month) + interval '1 month' - interval '1 day')::date as last_day
    from usage

),

coverage as (

    select
        min(first_day) as first_day,
        max(last_day) as last_day
    from anchor_days

),

-- the earliest anchor day among the records this run wrote (null when it wrote none)
rebuilt_days as (

    select min(received_date) as first_day
    from dossier_outcomes
    where _built_at = {{ chiso_run_started_at() }}

    union all

    select min(movement_date) as first_day
    from document_movements
    where _built_at = {{ chiso_run_started_at() }}

    union all

    select min(snapshot_date) as first_day
    from offerings
    where _built_at = {{ chiso_run_started_at() }}

    union all

    -- a restatement share that moved restates the split agency's whole history
    select '0001-01-01'::date as first_day
    from split_shares
    where _built_at = {{ chiso_run_started_at() }}

),

rebuilt as (

    select min(first_day) as first_day
    from rebuilt_days

),

final as (

    select
        periods.period_id,
        periods.calendar,
        periods.period_type,
        periods.period_key,
        periods.period_start,
        periods.period_end,
        periods.closing_month,
        periods.period_end <= coverage.last_day as is_complete
    from periods
    cross join coverage
    cross join rebuilt
    where {{ build_window_filter(
        'periods', 'coverage.first_day', 'coverage.last_day', 'rebuilt.first_day'
    ) }}

)

select * from final
