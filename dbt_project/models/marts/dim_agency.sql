with

agencies as (

    select * from {{ ref('ref_agencies') }}

),

final as (

    select
        agency_key,
        agency_code,
        agency_name,
        tier,
        case tier
            when 'province_dept' then 'Sở, ban, ngành'
            when 'district' then 'UBND cấp huyện'
            when 'commune' then 'UBND cấp xã'
        end as tier_name_vi,
        case tier
            when 'province_dept' then 1
            when 'district' then 2
            when 'commune' then 3
        end as tier_order,
        province_code,
        province_name,
        parent_agency_code,
        unit_key,
        agency_kind,
        valid_from,
        valid_to
    from agencies

)

select * from final
