{#-
    numerator / denominator * 100, rounded half away from zero to 2 decimals (kpis.md), computed
    exactly in integers (see rounded_ratio), null where the denominator is not positive.
-#}
{% macro percent(numerator, denominator) -%}
    cast({{ rounded_ratio('(' ~ numerator ~ ') * 100', denominator) }} as decimal(9, 2))
{%- endmacro %}
