{#
    The online-service level as a number 1–4 for the level-3/4 indicators: the reported level
    until NĐ 42/2022; after it 'toan_trinh' counts as 4 and 'mot_phan' as 3 when the variable
    map_service_level_to_legacy is true (docs/indicator-rules.md, "Service level").
#}
{% macro effective_level(level_column, service_level_column) -%}
    {%- if var('map_service_level_to_legacy', true) -%}
    coalesce(
        {{ level_column }},
        case {{ service_level_column }} when 'toan_trinh' then 4 when 'mot_phan' then 3 end
    )
    {%- else -%}
    {{ level_column }}
    {%- endif -%}
{%- endmacro %}
