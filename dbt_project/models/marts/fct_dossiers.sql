with

outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}

),

final as (

    select
        dossier_id,
        agency_code,
        procedure_code,
        procedure_level,
        channel,
        status,
        received_at,
        received_month,
        due_at,
        finished_at,
        finished_month,
        is_resolved,
        is_online,
        is_level_3_4,
        timeliness
    from outcomes

)

select * from final
