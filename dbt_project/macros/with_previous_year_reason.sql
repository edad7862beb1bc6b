{#-
    K01's missing_reason with why last year's value is missing after it ('previous year: ...'): that
    year's own reason; no workshop deliveries for that year (the first year loaded: every row said
    "no workshop figures" and read as if each workshop had failed to send); a workshop recognised
    only this year (``per_workshop``); or no figures of the region that year. ``found``: a column of
    the last-year row that is null when there is none; ``years``: the relation whose ``year`` lists
    the years with workshop figures. A partners' review found "x" under "Vorjahr" without a word.
-#}
{% macro with_previous_year_reason(this_year, last_year, found, years, per_workshop=false) -%}
    nullif(concat_ws(
        '; ',
        {{ this_year }}.missing_reason,
        case
            when
                {{ last_year }}.{{ found }} is null
                and {{ this_year }}.year - 1 not in (select year from {{ years }})
                then 'previous year: no workshop deliveries for ' || ({{ this_year }}.year - 1)
            {%- if per_workshop %}
            when {{ last_year }}.{{ found }} is null
                then 'previous year: recognised as a workshop only in ' || {{ this_year }}.year
            {%- else %}
            when {{ last_year }}.{{ found }} is null
                then 'previous year: no workshop figures for ' || ({{ this_year }}.year - 1)
            {%- endif %}
            when {{ last_year }}.value is null then 'previous year: ' || {{ last_year }}.missing_reason
        end
    ), '')
{%- endmacro %}
