-- The online services each agency offers, per catalogue snapshot (docs/indicator-rules.md,
-- "Online services"): one row per agency version × procedure × snapshot date, discontinued
-- listings left out, with the effective level (1–4, post-2022 levels mapped when enabled).
-- A table: several indicator models read it, each over many periods.
-- Incremental (macros/incremental/downstream.sql): a run recomputes the keys whose upstream
-- rows were rebuilt since, so its cost follows the new month, not the history.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='snapshot_date',
    on_schema_change='fail',
    indexes=[
        {'columns': ['snapshot_date']},
        {'columns': ['_built_at']},
        {'columns': ['agency_key', 'snapshot_date']},
        {'columns': ['_extract_month']},
    ],
    post_hook="{{ prune_missing_keys(ref('stg_portal__service_catalogue'), 'kept.snapshot_date = built.snapshot_date') }}",
) }}

with

catalogue as (

    select * from {{ ref('stg_portal__service_catalogue') }}
    {{ touched_filter('snapshot_date', [[ref('stg_portal__service_catalogue'), 'snapshot_date']]) }}

),

code_versions as (

    select * from {{ ref('int_agencies__code_versions') }}

),

final as (

    select
        code_versions.agency_key,
        catalogue.agency_code,
        catalogue.procedure_code,
        catalogue.snapshot_date,
        catalogue.procedure_level,
        catalogue.service_level,
        {{ effective_level('catalogue.procedure_level', 'catalogue.service_level') }}
            as effective_level,
        coalesce(catalogue.is_full_online_eligible, false) as is_full_online_eligible,
        coalesce(catalogue.is_on_national_portal, false) as is_on_national_portal,
        coalesce(catalogue.has_online_payment, false) as has_online_payment,
        coalesce(catalogue.is_fee_bearing, false) as is_fee_bearing,
        catalogue._extract_month,
        {{ chiso_run_started_at() }} as _built_at
    from catalogue
    left join code_versions
        on catalogue.agency_code = code_versions.agency_code
        and catalogue.snapshot_date between code_versions.covers_from and code_versions.covers_to
    where catalogue.listing_status is distinct from 'discontinued'

)

select * from final
