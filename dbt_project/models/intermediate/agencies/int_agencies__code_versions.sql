-- Which agency version a record carrying an agency code belongs to, by the record's anchor
-- date (docs/indicator-rules.md, "Which agency a record belongs to"). Codes are reused across
-- the 2025 restructuring, so a code alone is not an agency: each version covers the days from
-- its valid_from until the next version of the code starts; the first version also covers
-- the days before it and a version that ended keeps the days after it until a new one starts.
-- Every (code, day) therefore resolves to exactly one agency_key.
with

agencies as (

    select * from {{ ref('ref_agencies') }}

),

ordered as (

    select
        agency_code,
        agency_key,
        valid_from,
        valid_to,
        row_number() over (partition by agency_code order by valid_from) as version_number,
        lead(valid_from) over (partition by agency_code order by valid_from) as next_valid_from
    from agencies

),

final as (

    select
        agency_code,
        agency_key,
        version_number,
        valid_from,
        valid_to,
        case when version_number = 1 then '0001-01-01'::date else valid_from end as covers_from,
        coalesce((next_valid_from - 1), '9999-12-31'::date) as covers_to
    from ordered

)

select * from final
