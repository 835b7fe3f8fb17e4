-- The early/late denominators must equal the resolved dossiers of fct_dossiers, per agency and
-- month; any difference means a formula and the fact table disagree.
with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}

),

dossiers as (

    select * from {{ ref('fct_dossiers') }}

),

resolved as (

    select
        agency_code,
        finished_month as period_month,
        count(*) as resolved
    from dossiers
    where is_resolved
    group by 1, 2

),

denominators as (

    select
        agency_code,
        period_month,
        denominator
    from indicator_values
    where indicator_code = 'dossier.early_rate'

)

select
    coalesce(denominators.agency_code, resolved.agency_code) as agency_code,
    coalesce(denominators.period_month, resolved.period_month) as period_month,
    denominators.denominator,
    resolved.resolved
from denominators
full outer join resolved
    on denominators.agency_code = resolved.agency_code
    and denominators.period_month = resolved.period_month
where coalesce(denominators.denominator, 0) <> coalesce(resolved.resolved, 0)
    -- resolved dossiers finishing after the last month of receipt fall outside the spine
    and coalesce(denominators.period_month, resolved.period_month)
    <= (select max(dossiers.received_month) as last_received_month from dossiers)
