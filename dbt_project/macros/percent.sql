{#-
    numerator / denominator * 100, rounded half away from zero to 2 decimals (kpis.md), computed
    exactly in integers (no binary floating point), null where the denominator is not positive.
-#}
{% macro percent(numerator, denominator) -%}
    case
        when {{ denominator }} > 0
            then cast(
                cast(
                    (cast({{ numerator }} as hugeint) * 20000 + {{ denominator }}) // (2 * {{ denominator }})
                    as decimal(18, 0)
                ) * 0.01 as decimal(9, 2)
            )
    end
{%- endmacro %}
