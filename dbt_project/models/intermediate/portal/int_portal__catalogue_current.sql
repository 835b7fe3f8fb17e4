-- The service catalogue as its latest snapshot shows it, one row per agency × procedure: the
-- input of the SCD2 snapshot snap_portal__service_catalogue, which records each change of
-- level, eligibility or integration from run to run, and of dim_procedure.
-- Incremental (macros/incremental/downstream.sql): a run looks again only at the pairs a
-- delivery touched (rows staged since the last build, or a current row whose snapshot a
-- re-delivery withdrew) and reads each pair's latest snapshot through the staging index on
-- (agency_code, procedure_code, snapshot_date): one index probe per pair, not a ranking of the
-- whole catalogue history.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='offering_id',
    on_schema_change='fail',
    indexes=[
        {'columns': ['offering_id'], 'unique': true},
        {'columns': ['_built_at']},
        {'columns': ['_extract_month']},
    ],
    post_hook="{{ prune_missing_keys(ref('stg_portal__service_catalogue'), 'kept.agency_code = built.agency_code and kept.procedure_code = built.procedure_code') }}",
) }}

with

-- not materialized: each pair's latest row is read through the staging index, not copied whole
catalogue as not materialized (

    select * from {{ ref('stg_portal__service_catalogue') }}

),

-- the pairs a delivery touched since the last build (on a full refresh, every pair), and the
-- pairs whose current row's snapshot a re-delivery withdrew
touched_pairs as (

    select distinct
        catalogue.agency_code,
        catalogue.procedure_code
    from catalogue
    {{ built_since_last_build('catalogue') }}
    {{ withdrawn_offerings('catalogue', ref('stg_portal__service_catalogue')) }}

),

latest as (

    select catalogue.*
    from touched_pairs
    cross join
        lateral (
            select max(snapshot_rows.snapshot_date) as snapshot_date
            from catalogue as snapshot_rows
            where
                snapshot_rows.agency_code = touched_pairs.agency_code
                and snapshot_rows.procedure_code = touched_pairs.procedure_code
        ) as latest_snapshot
    inner join catalogue
        on touched_pairs.agency_code = catalogue.agency_code
        and touched_pairs.procedure_code = catalogue.procedure_code
        and latest_snapshot.snapshot_date = catalogue.snapshot_date

),

final as (

    select
        agency_code || '|' || procedure_code as offering_id,
        agency_code,
        procedure_code,
        snapshot_date,
        procedure_name,
        field_code,
        field_name,
        authority_tier,
        procedure_level,
        service_level,
        is_full_online_eligible,
        is_on_national_portal,
        has_online_payment,
        is_fee_bearing,
        listing_status,
        returns_result,
        _extract_month,
        {{ chiso_run_started_at() }} as _built_at
    from latest

)

select * from final
