-- ref_admin_unit_lineage.csv as loaded: Which unit continues an ended one, whole or in part, from
-- which day.
with

source as (

    select * from {{ source('reference', 'admin_unit_lineage') }}

),

final as (

    select
        from_unit_key,
        to_unit_key,
        relation,
        effective_date
    from source

)

select * from final
