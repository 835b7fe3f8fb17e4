-- Dossiers balance in every agency and period (docs/indicator-rules.md):
-- carried over + received = resolved + withdrawn + returned + in progress at the end, and
-- early + on time + late never exceed resolved. Returns the periods where they do not.
with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}
    {{ latest_build_only(ref('fct_indicator_values')) }}

),

pivoted as (

    select
        basis,
        agency_key,
        period_id,
        sum(numerator) filter (where indicator_code = 'dossier.carried_over') as carried_over,
        sum(numerator) filter (where indicator_code = 'dossier.received') as received,
        sum(numerator) filter (where indicator_code = 'dossier.resolved') as resolved,
        sum(numerator) filter (where indicator_code = 'dossier.withdrawn') as withdrawn,
        sum(numerator) filter (where indicator_code = 'dossier.returned') as returned,
        sum(numerator) filter (where indicator_code = 'dossier.in_progress') as in_progress,
        sum(numerator) filter (
            where indicator_code in (
                'dossier.early_rate', 'dossier.ontime_rate', 'dossier.late_rate'
            )
        ) as classified,
        max(denominator) filter (where indicator_code = 'dossier.early_rate') as early_denominator
    from indicator_values
    group by 1, 2, 3

),

final as (

    select *
    from pivoted
    where
        abs((carried_over + received) - (resolved + withdrawn + returned + in_progress)) > 0.0001
        or classified > resolved + 0.0001
        or abs(early_denominator - resolved) > 0.0001

)

select * from final
