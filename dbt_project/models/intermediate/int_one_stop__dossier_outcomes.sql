-- Classifies each dossier by how and when it ended, under the classic definition (rules.md):
-- early if the finish date is strictly before the promised date, on time on that date,
-- late after it. The finish time is the first terminal event, in priority: processing
-- finished (Đã xử lý xong) > result returned (Đã trả kết quả).
with

dossiers as (

    select * from {{ ref('stg_one_stop__dossiers') }}

),

finished as (

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
        status in ('resolved', 'result_returned') as is_resolved,
        case
            when status in ('resolved', 'result_returned')
                then coalesce(finished_processing_at, returned_at)
        end as finished_at
    from dossiers

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
        is_resolved,
        finished_at,
        date_trunc('month', finished_at)::date as finished_month,
        channel = 'online' as is_online,
        coalesce(procedure_level >= 3, false) as is_level_3_4,
        case
            when finished_at is null or due_at is null then null
            when finished_at::date < due_at::date then 'early'
            when finished_at::date = due_at::date then 'on_time'
            else 'late'
        end as timeliness
    from finished

)

select * from final
