-- The QĐ 766/QĐ-TTg service-quality index per agency and province, every period of both
-- calendars, as reported: one row per item of ref_qd766_items. A scored item takes its ratio
-- from the indicator counts (province rows pool the dossiers of every agency of the province,
-- as the national portal does, never averaging agencies' scores) and earns max × ratio
-- (linear) or max × min(1, ratio / threshold) (threshold). Items the sources cannot support,
-- or not computed yet, are rows with their status and no points: they are never scored 0.
-- docs/indicator-rules.md, "QĐ 766 scorecard". Incremental like fct_indicator_values.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='period_id',
        on_schema_change='fail',
        indexes=[{'columns': ['period_id']}, {'columns': ['_built_at']}],
    )
}}

with

-- only the periods this run builds, through fct_indicator_values' period_id index
indicator_values as (

    select * from {{ ref('fct_indicator_values') }}
    where {{ in_periods_to_build('period_id') }} and basis = 'as_reported'

),

agencies as (

    select * from {{ ref('dim_agency') }}

),

items as (

    select * from {{ ref('ref_qd766_items') }}

),

-- the indicator counts of each agency version and period, with the agency's province
counts as (

    select
        indicator_values.period_id,
        indicator_values.calendar,
        indicator_values.period_type,
        indicator_values.period_key,
        indicator_values.closing_month,
        agencies.province_code,
        agencies.province_name,
        indicator_values.agency_key,
        indicator_values.indicator_code as code,
        indicator_values.numerator as num,
        indicator_values.denominator as den
    from indicator_values
    inner join agencies
        on indicator_values.agency_key = agencies.agency_key

),

{% set measures = [
    ('dossier.timely_766', 'timely'),
    ('dossier.avg_processing_days', 'processing'),
    ('svc.l3_provision', 'provision'),
    ('svc.l3_used', 'l3_used'),
    ('svc.l4_used', 'l4_used'),
    ('id.vneid_rate', 'vneid'),
    ('digit.dossier_rate', 'digitised'),
    ('pay.online_rate', 'paid'),
    ('pay.procedure_payment_rate', 'fee_payment'),
    ('pay.procedure_paid_rate', 'fee_paid'),
    ('id.vneid_procedure_rate', 'vneid_procedures'),
    ('digit.eresult_rate', 'eresult'),
    ('digit.reuse_rate', 'reuse'),
    ('dossier.late_rate', 'late'),
    ('sat.rate', 'ratings'),
] %}
-- the counts an item needs, one row per agency and period
per_agency as (

    select
        period_id,
        calendar,
        period_type,
        period_key,
        closing_month,
        province_code,
        province_name,
        agency_key,
        {% for code, name in measures %}
            coalesce(sum(num) filter (where code = '{{ code }}'), 0) as {{ name }}_num,
            coalesce(sum(den) filter (where code = '{{ code }}'), 0) as {{ name }}_den,
        {% endfor %}
        count(*) as indicator_rows
    from counts
    group by 1, 2, 3, 4, 5, 6, 7, 8

),

-- the province pools its agencies' dossiers (sums of numerators and denominators)
units as (

    select
        'agency' as scope,
        per_agency.agency_key as unit_key,
        per_agency.*
    from per_agency

    union all

    select
        'province' as scope,
        'province:' || province_code as unit_key,
        period_id,
        calendar,
        period_type,
        period_key,
        closing_month,
        province_code,
        province_name,
        null as agency_key,
        {% for code, name in measures %}
            sum({{ name }}_num) as {{ name }}_num,
            sum({{ name }}_den) as {{ name }}_den,
        {% endfor %}
        sum(indicator_rows) as indicator_rows
    from per_agency
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

),

ratios as (

    select
        units.unit_key,
        units.period_id,
        measures.item_code,
        measures.numerator,
        measures.denominator,
        measures.numerator / nullif(measures.denominator, 0) as raw_ratio
    from units
    cross join
        lateral (
            values
            ('2.1', units.timely_num, units.timely_den),
            ('2.2', units.processing_num, units.processing_den),
            ('3.1', units.provision_num, units.provision_den),
            (
                '3.2',
                units.l3_used_num + units.l4_used_num,
                units.l3_used_den + units.l4_used_den
            ),
            -- online dossiers received (id.vneid_rate's denominator) over all received
            ('3.3', units.vneid_den, units.digitised_den),
            ('3.5', units.fee_payment_num, units.fee_payment_den),
            ('3.5b', units.fee_paid_num, units.fee_paid_den),
            ('3.6', units.paid_num, units.paid_den),
            ('4.1', units.eresult_num, units.eresult_den),
            ('4.2', units.digitised_num, units.digitised_den),
            ('4.3', units.reuse_num, units.reuse_den),
            ('4.5a', units.vneid_procedures_num, units.vneid_procedures_den),
            ('4.5b', units.vneid_num, units.digitised_den),
            -- 100 % − late share − unsatisfied ratings per resolved dossier, never below 0
            (
                '5.4',
                greatest(
                    units.late_den - units.late_num - (units.ratings_den - units.ratings_num), 0
                ),
                units.late_den
            )
        ) as measures (item_code, numerator, denominator)

),

final as (

    select
        units.scope,
        units.unit_key,
        units.period_id,
        units.calendar,
        units.period_type,
        units.period_key,
        units.closing_month,
        units.province_code,
        units.province_name,
        units.agency_key,
        agencies.agency_code,
        agencies.agency_name,
        agencies.tier,
        items.group_code,
        items.group_name_vi,
        items.item_code,
        items.item_name_vi,
        items.max_points::numeric(6, 2) as max_points,
        items.scoring,
        items.threshold::numeric(6, 4) as threshold,
        items.status,
        ratios.numerator::numeric(20, 6) as numerator,
        ratios.denominator::numeric(20, 6) as denominator,
        round(ratios.raw_ratio, 6)::numeric(20, 6) as ratio,
        case
            when items.status != 'scored' or ratios.raw_ratio is null then null
            when items.scoring = 'threshold'
                then items.max_points * least(1, ratios.raw_ratio / items.threshold)
            else items.max_points * ratios.raw_ratio
        end::numeric(8, 4) as points,
        {{ chiso_run_started_at() }} as _built_at
    from units
    cross join items
    left join ratios
        on units.unit_key = ratios.unit_key
        and units.period_id = ratios.period_id
        and items.item_code = ratios.item_code
    left join agencies
        on units.agency_key = agencies.agency_key

)

select * from final
