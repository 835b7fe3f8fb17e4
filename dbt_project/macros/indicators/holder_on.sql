{#
    The agency version holding a dossier at the end of a day: the one that received it
    (outcomes.agency_key) until it was handed to a successor (custody_from, the first handover,
    and custody_path, 'YYYY-MM-DD agency_key' per handover, of int_one_stop__dossier_outcomes:
    1 March and 1 July 2025), the successor from the day of the handover. Only a handed-over
    dossier pays for the lookup.
#}
{% macro holder_on(outcomes, day) -%}
    {%- set p = outcomes ~ '.' if outcomes else '' -%}
    case
        when {{ p }}custody_from is null or {{ p }}custody_from > {{ day }}
            then {{ p }}agency_key
        else (
            select split_part(holder_steps.step, ' ', 2)
            from unnest(string_to_array({{ p }}custody_path, ',')) as holder_steps (step)
            where split_part(holder_steps.step, ' ', 1)::date <= {{ day }}
            order by split_part(holder_steps.step, ' ', 1) desc
            limit 1
        )
    end
{%- endmacro %}
