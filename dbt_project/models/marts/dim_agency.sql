-- Agencies as a type-2 slowly changing dimension: one row per agency version (agency_key),
-- valid_from / valid_to, with its tier, the administrative unit it governs or sits in, and
-- its lineage: the agencies that exist now it leads to (ref_agency_lineage followed to its
-- end; the share each takes in the restated basis depends on the data and lives in
-- int_agencies__restatement_map, so this dimension stays built from seeds alone). Codes are
-- reused across the 2025 restructuring, so join facts on agency_key, or on agency_code with a
-- date between valid_from and valid_to.
with recursive

agencies as (

    select * from {{ ref('ref_agencies') }}

),

admin_units as (

    select * from {{ ref('ref_admin_units') }}

),

lineage as (

    select * from {{ ref('ref_agency_lineage') }}

),

paths (agency_key, current_agency_key, hops) as (

    select
        agency_key,
        agency_key as current_agency_key,
        0 as hops
    from agencies

    union all

    select
        paths.agency_key,
        lineage.to_agency_key as current_agency_key,
        paths.hops + 1 as hops
    from paths
    inner join lineage
        on paths.current_agency_key = lineage.from_agency_key
    where paths.hops < 10

),

successors as (

    select
        paths.agency_key,
        array_agg(distinct paths.current_agency_key order by paths.current_agency_key)
            as current_agency_keys,
        count(distinct paths.current_agency_key) as current_agency_count
    from paths
    where not exists (
            select lineage.from_agency_key
            from lineage
            where lineage.from_agency_key = paths.current_agency_key
        )
    group by 1

),

final as (

    select
        agencies.agency_key,
        agencies.agency_code,
        agencies.agency_name,
        agencies.tier,
        case agencies.tier
            when 'province_dept' then 'Sở, ban, ngành'
            when 'district' then 'UBND cấp huyện'
            when 'commune' then 'UBND cấp xã'
        end as tier_name_vi,
        case agencies.tier
            when 'province_dept' then 1
            when 'district' then 2
            when 'commune' then 3
        end as tier_order,
        agencies.province_code,
        agencies.province_name,
        agencies.parent_agency_code,
        agencies.agency_kind,
        agencies.unit_key,
        admin_units.unit_code,
        admin_units.unit_name,
        admin_units.unit_level,
        agencies.valid_from,
        agencies.valid_to,
        agencies.valid_to is null as is_current,
        successors.current_agency_keys,
        successors.current_agency_count
    from agencies
    left join admin_units
        on agencies.unit_key = admin_units.unit_key
    left join successors
        on agencies.agency_key = successors.agency_key

)

select * from final
