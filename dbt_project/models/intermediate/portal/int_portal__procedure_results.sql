-- Whether each procedure hands out a result document, as the catalogue says ("Kết quả thực
-- hiện", stg_portal__service_catalogue.returns_result): each offering speaks through its
-- latest snapshot; of those that state something, the latest snapshot wins, ties to the
-- lowest agency code. A procedure no catalogue speaks of has no row (taken to return one).
{{ config(materialized='view') }}

with

catalogue as (

    select * from {{ ref('int_portal__catalogue_current') }}

),

statements as (

    select distinct on (procedure_code)
        procedure_code,
        returns_result,
        snapshot_date as stated_on,
        agency_code as stated_by
    from catalogue
    where returns_result is not null
    order by 1 asc, 3 desc, 4 asc

),

final as (

    select
        procedure_code,
        returns_result,
        stated_on,
        stated_by
    from statements

)

select * from final
