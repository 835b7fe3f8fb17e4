-- Dossiers balance in every agency and period (docs/indicator-rules.md):
-- carried over + received + handed in = resolved + withdrawn + returned + in progress at the
-- end + handed out, and early + on time + late never exceed resolved. A dossier handed to a
-- successor inside a period (its agency ended: 1 March, 1 July 2025) leaves one agency and
-- joins another; restated rows move those handovers as they move the counts. Returns the
-- periods where the identity does not hold.
with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}
    {{ latest_build_only(ref('fct_indicator_values')) }}

),

outcomes as (

    select * from {{ ref('int_one_stop__dossier_outcomes') }}
    where custody_path is not null

),

periods as (

    select * from {{ ref('dim_period') }}

),

restatement_map as (

    select * from {{ ref('int_agencies__restatement_map') }}

),

-- every handover after a period's first day and by its last (one on the first day is the
-- successor's carried-over already): from the holder the day before to the new one
handovers as (

    select
        periods.period_id,
        {{ holder_on('outcomes', "split_part(handover.step, ' ', 1)::date - 1") }}
            as from_agency_key,
        split_part(handover.step, ' ', 2) as to_agency_key
    from outcomes
    cross join lateral unnest(string_to_array(outcomes.custody_path, ',')) as handover (step)
    inner join periods
        on split_part(handover.step, ' ', 1)::date > periods.period_start
        and split_part(handover.step, ' ', 1)::date <= periods.period_end

),

moves as (

    select
        period_id,
        from_agency_key as agency_key,
        0 as handed_in,
        1 as handed_out
    from handovers

    union all

    select
        period_id,
        to_agency_key as agency_key,
        1 as handed_in,
        0 as handed_out
    from handovers

),

moved as (

    select
        'as_reported' as basis,
        agency_key,
        period_id,
        sum(handed_in) as handed_in,
        sum(handed_out) as handed_out
    from moves
    group by 1, 2, 3

    union all

    select
        'restated' as basis,
        restatement_map.current_agency_key as agency_key,
        moves.period_id,
        sum(moves.handed_in * restatement_map.share) as handed_in,
        sum(moves.handed_out * restatement_map.share) as handed_out
    from moves
    inner join restatement_map
        on moves.agency_key = restatement_map.agency_key
    group by 1, 2, 3

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

    select
        pivoted.*,
        coalesce(moved.handed_in, 0) as handed_in,
        coalesce(moved.handed_out, 0) as handed_out
    from pivoted
    left join moved
        on pivoted.basis = moved.basis
        and pivoted.agency_key = moved.agency_key
        and pivoted.period_id = moved.period_id
    where
        abs(
            (pivoted.carried_over + pivoted.received + coalesce(moved.handed_in, 0))
            - (
                pivoted.resolved + pivoted.withdrawn + pivoted.returned + pivoted.in_progress
                + coalesce(moved.handed_out, 0)
            )
        ) > 0.0001
        or pivoted.classified > pivoted.resolved + 0.0001
        or abs(pivoted.early_denominator - pivoted.resolved) > 0.0001

)

select * from final
