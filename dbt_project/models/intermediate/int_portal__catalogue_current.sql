-- The service catalogue as its latest snapshot shows it, one row per agency × procedure: the
-- input of the SCD2 snapshot snap_portal__service_catalogue, which records each change of
-- level, eligibility or integration from run to run. A table: the snapshot and three tests
-- read it, and each read of a view would rank the whole catalogue history again.
{{ config(materialized='table', indexes=[{'columns': ['offering_id'], 'unique': true}]) }}

with

catalogue as (

    select * from {{ ref('stg_portal__service_catalogue') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by agency_code, procedure_code order by snapshot_date desc
        ) as recency
    from catalogue

),

final as (

    select
        agency_code || '|' || procedure_code as offering_id,
        agency_code,
        procedure_code,
        snapshot_date,
        procedure_level,
        service_level,
        is_full_online_eligible,
        is_on_national_portal,
        has_online_payment,
        is_fee_bearing,
        listing_status
    from ranked
    where recency = 1

)

select * from final
