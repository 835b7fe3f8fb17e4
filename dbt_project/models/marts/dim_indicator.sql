with

indicators as (

    select * from {{ ref('ref_indicators') }}

),

final as (

    select
        indicator_code,
        indicator_name_vi,
        indicator_name_en,
        section,
        source_system,
        numerator_definition,
        denominator_definition,
        unit,
        direction,
        legal_basis,
        in_mart,
        target_period
    from indicators

)

select * from final
