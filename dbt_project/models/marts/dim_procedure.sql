-- Administrative procedures (thủ tục hành chính) by their national code, with the name, field
-- and authority tier of the latest catalogue snapshot that lists them. Their online level
-- changes over time: it lives in fct_service_offerings (monthly) and in the SCD2 snapshot
-- snap_portal__service_catalogue, not here.
-- Read from int_portal__catalogue_current, each offering's latest snapshot: the latest row of
-- a procedure over the whole catalogue history is the latest of its offerings' latest rows, so
-- the result is the same as ranking the history, at the cost of one row per offering.
with

catalogue as (

    select * from {{ ref('int_portal__catalogue_current') }}

),

ranked as (

    select
        procedure_code,
        procedure_name,
        field_code,
        field_name,
        authority_tier,
        snapshot_date,
        row_number() over (
            partition by procedure_code order by snapshot_date desc, agency_code asc
        ) as recency
    from catalogue

),

final as (

    select
        procedure_code,
        procedure_name,
        field_code,
        field_name,
        authority_tier,
        snapshot_date as last_seen_on
    from ranked
    where recency = 1

)

select * from final
