{#-
    K01's missing_reason with why last year's value is missing after it ('previous year: ...'): that
    year's own reason, or no figures for that year (a workshop not yet recognised, a year before the
    first loaded). ``found``: a column of the last-year row that is null when there is none. A
    partners' review found "x" under "Vorjahr" without a word.
-#}
{% macro with_previous_year_reason(this_year, last_year, found) -%}
    nullif(concat_ws(
        '; ',
        {{ this_year }}.missing_reason,
        case
            when {{ last_year }}.{{ found }} is null
                then 'previous year: no workshop figures for ' || ({{ this_year }}.year - 1)
            when {{ last_year }}.value is null then 'previous year: ' || {{ last_year }}.missing_reason
        end
    ), '')
{%- endmacro %}
