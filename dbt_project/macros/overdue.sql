{#-
    Where a figure is missing because a file is overdue (ops.expected_deliveries): the words to add
    to its missing_reason, naming the sender, the part, the period and the due day; else ''.

      sender: SQL of the sender (a Werkstatt-Nr., Kreisschlüssel or LWL/LVR)
      part:   the part, e.g. 'personen'
      period: SQL of the period ('JJJJ-MM', or 'JJJJ' for a Landschaftsverband's yearly files)
-#}
{% macro overdue(sender, part, period) -%}
    coalesce((
        select
            ': the ' || expected.part || ' file of ' || expected.sender || ' for ' || expected.period
            || ' is overdue since ' || strftime(expected.due_on, '%Y-%m-%d')
        from {{ ref('expected_deliveries') }} as expected
        where
            expected.sender = {{ sender }}
            and expected.part = '{{ part }}'
            and expected.period = {{ period }}
            and expected.status = 'overdue'
    ), '')
{%- endmacro %}
