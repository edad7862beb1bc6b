{#- numerator / denominator rounded half away from zero to 2 decimals, exactly (non-negative integers). -#}
{% macro rounded_ratio(numerator, denominator) -%}
    case
        when {{ denominator }} > 0
            then cast(
                cast(
                    (cast({{ numerator }} as hugeint) * 200 + {{ denominator }}) // (2 * {{ denominator }})
                    as decimal(18, 0)
                ) * 0.01 as decimal(18, 2)
            )
    end
{%- endmacro %}
