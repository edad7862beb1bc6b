{#-
    Where a figure is missing because a file is overdue (ops.expected_deliveries): the words to add
    to its missing_reason, naming the sender, the part, the period and the due day, and the day a
    file of it came that was rejected; else ''.

      sender: SQL of the sender (a Werkstatt-Nr., Kreisschlüssel or LWL/LVR)
      part:   the part, e.g. 'personen'
      period: SQL of the period ('JJJJ-MM', or 'JJJJ' for a Landschaftsverband's yearly files)
-#}
{% macro overdue(sender, part, period) -%}
    coalesce((
        select
            ': the ' || expected.part || ' file of ' || expected.sender || ' for ' || expected.period
            || ' is overdue since ' || strftime(expected.due_on, '%Y-%m-%d')
            || coalesce(' (a file of ' || strftime(expected.rejected_on, '%Y-%m-%d') || ' was rejected)', '')
        from {{ ref('expected_deliveries') }} as expected
        where
            expected.sender = {{ sender }}
            and expected.part = '{{ part }}'
            and expected.period = {{ period }}
            and expected.status = 'overdue'
    ), '')
{%- endmacro %}

{#-
    Where a figure over a window of months is missing because files in it are overdue: the words to
    add to its missing_reason, naming the sender, the part and every overdue month; else ''.

      first_period, last_period: SQL of the window's first and last month ('JJJJ-MM')
-#}
{% macro overdue_in(sender, part, first_period, last_period) -%}
    coalesce((
        select
            ': the {{ part }} ' || case when count(*) = 1 then 'file' else 'files' end
            || ' of ' || any_value(expected.sender) || ' for ' || string_agg(expected.period, ', ' order by expected.period)
            || case when count(*) = 1 then ' is' else ' are' end || ' overdue'
        from {{ ref('expected_deliveries') }} as expected
        where
            expected.sender = {{ sender }}
            and expected.part = '{{ part }}'
            and expected.period between {{ first_period }} and {{ last_period }}
            and expected.status = 'overdue'
        having count(*) > 0
    ), '')
{%- endmacro %}


{#-
    Why a workshop's transitions of a year are missing (no uebergaenge file, nor a workbook, for any
    month of it: int_workshop_transition_counts), with the months overdue; K02, K04 and K12 say it.

      sender: SQL of the Werkstatt-Nr.
      year:   SQL of the year
-#}
{% macro no_transitions_file(sender, year) -%}
    'no uebergaenge file for ' || {{ year }}
    || {{ overdue_in(sender, 'uebergaenge', year ~ " || '-01'", year ~ " || '-12'") }}
{%- endmacro %}


{#-
    A note on a figure that counts a workshop's transitions (K10, K14) where its uebergaenge files of
    the year are overdue (ops.expected_deliveries): which workshop, which months. For a grouping by
    sender of the calendar's rows (``expected``: their alias).
-#}
{% macro overdue_transitions_note(expected) -%}
    'the uebergaenge ' || case when count(*) = 1 then 'file' else 'files' end || ' of '
    || any_value({{ expected }}.sender) || ' for ' || string_agg({{ expected }}.period, ', ' order by {{ expected }}.period)
    || case when count(*) = 1 then ' is' else ' are' end || ' overdue: its transitions are missing'
{%- endmacro %}


{#-
    Why a workshop's persons on BiAp on 31.12. are missing while its persons in AB are not: no
    Außenarbeitsplätze of December (no file, or it was rejected); K01, K12 and K14 say it.

      sender: SQL of the Werkstatt-Nr.
      year:   SQL of the year
-#}
{% macro no_placements_file(sender, year) -%}
    'no aussenarbeitsplaetze file for December ' || {{ year }}
    || {{ overdue(sender, 'aussenarbeitsplaetze', year ~ " || '-12'") }}
{%- endmacro %}


{#- The calendar's parts a delivery log row delivers: a workshop's workbook all three of its
    sheets, any other file its own part (one row per part). -#}
{% macro calendar_parts() -%}
    unnest(
        case
            when format = 'wfbm_xlsx' then ['personen', 'aussenarbeitsplaetze', 'uebergaenge']
            else [part]
        end
    )
{%- endmacro %}
