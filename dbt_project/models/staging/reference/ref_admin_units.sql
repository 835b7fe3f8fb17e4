-- ref_admin_units.csv as loaded: Provinces, districts and communes, one row per version (validity
-- dates).
with

source as (

    select * from {{ source('reference', 'admin_units') }}

),

final as (

    select
        unit_key,
        unit_code,
        unit_name,
        unit_level,
        parent_unit_key,
        valid_from,
        valid_to,
        code_system
    from source

)

select * from final
