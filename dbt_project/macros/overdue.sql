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
    A note (or reason) on a figure that counts what a sender's overdue files hold: which sender,
    which part, which periods, and what is missing from the figure, e.g. "its transitions are
    missing" on K10 and K14 where a workshop's uebergaenge files of the year are overdue. For a
    grouping by sender and part of the calendar's rows (``expected``: their alias).
-#}
{% macro overdue_files_note(expected, consequence) -%}
    'the ' || any_value({{ expected }}.part) || ' ' || case when count(*) = 1 then 'file' else 'files' end
    || ' of ' || any_value({{ expected }}.sender)
    || ' for ' || string_agg({{ expected }}.period, ', ' order by {{ expected }}.period)
    || case when count(*) = 1 then ' is' else ' are' end || ' overdue: {{ consequence }}'
{%- endmacro %}


{#-
    The Jobcenter figures that look for an integration in a window after a date (K08: 183 days after
    a Werkakademie entry; K09: 92 days after a MAG spell ends) miss it where an integrationen file
    of a month the window touches is overdue: such a figure is missing, not too low (kpis.md).
    Selects (jobcenter, year, missing_reason) for each Jobcenter year with an overdue month inside
    one of its windows; a file overdue outside every window changes nothing, and so does one for a
    month no Jobcenter has sent integrationen for yet (newest_jobcenter_month): that part of the
    windows is not covered by anyone yet, and the figure is provisional.

      windows:      a CTE with jobcenter, year and the window's first day
      window_start: that first day's column
      window_days:  the window's length after it, in days
-#}
{% macro overdue_integrations_in(windows, window_start, window_days) -%}
    select
        gaps.jobcenter,
        gaps.year,
        {{ overdue_files_note('gaps', 'its integrations are missing') }} as missing_reason
    from (
        select distinct
            windows.jobcenter,
            windows.year,
            expected.sender,
            expected.part,
            expected.period
        from {{ windows }} as windows
        inner join {{ ref('expected_deliveries') }} as expected
            on
                windows.jobcenter = expected.sender
                and expected.part = 'integrationen'
                and expected.status = 'overdue'
                and cast(expected.period || '-01' as date) <= windows.{{ window_start }} + {{ window_days }}
                and last_day(cast(expected.period || '-01' as date)) >= windows.{{ window_start }}
        where expected.period <= ({{ newest_jobcenter_month('integrationen') }})
    ) as gaps
    group by gaps.jobcenter, gaps.year
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


{#-
    K08 counts a year's Werkakademie entries and K09 its MAG spells that end, from the monthly
    massnahmen files (the spells active in the month; one ends in the file of its last month): where
    a file of a month of the year is overdue, entries and ends of that month may be missing, and the
    year is missing (kpis.md: missing, not too low). A month no Jobcenter has sent massnahmen for yet
    is not known to anyone: the year is provisional (int_jobcenter_years.measures_until).
    Selects (jobcenter, year, missing_reason).
-#}
{% macro overdue_measures_in_year() -%}
    select
        expected.sender as jobcenter,
        cast(left(expected.period, 4) as integer) as year,
        {{ overdue_files_note('expected', 'its measures are missing') }} as missing_reason
    from {{ ref('expected_deliveries') }} as expected
    where
        expected.part = 'massnahmen'
        and expected.status = 'overdue'
        and expected.period <= ({{ newest_jobcenter_month('massnahmen') }})
    group by expected.sender, cast(left(expected.period, 4) as integer)
{%- endmacro %}


{#-
    The newest month any Jobcenter has sent a file of ``part`` for ('JJJJ-MM'): the calendar expects
    a month of every Jobcenter once one has sent any of its files (a lone kunden file of a new
    month), so the figures that wait for a part take an overdue file of it as missing only up to
    this month; later ones nobody has sent yet, and a figure that needs them is provisional (a lone
    file of a new month changes no delivered figure).
-#}
{% macro newest_jobcenter_month(part) -%}
    select max(month) from {{ ref('fct_monthly_deliveries') }}
    where source_system = 'jc' and list_contains(parts_delivered, '{{ part }}')
{%- endmacro %}
