{#-
    The Landschaftsverband and NRW totals of a KPI table (kpis.md, privacy.md §3), per period: one
    row per Landschaftsverband summing its rows, and one NRW row summing the Landschaftsverband rows
    (for a table whose grain is the Landschaftsverband, the NRW row alone, summing its rows). A table
    of Jobcenters also gets one row per peer group (level vergleichsgruppe, dim_regions), summing
    its Jobcenters: the line a Jobcenter's report compares with.

    A count whose parts are all missing is missing, not 0 ("no part has a value for ..."). A count
    that sums only some of its rows, because the others have no value, says so in `note`
    ("<count>: N of M parts without a value", M the KPI's own rows below the total: NRW's are all;
    "every count: ..." where all counts lack the same parts),
    as the partners' extracts do (Hinweis: Summe unvollständig): K02's LVR total of 2024 summed the
    transitions of six workshops over the persons of four. A rate is recomputed from the summed
    numerator and denominator with the KPI's own macro, and is missing when any part's rate is
    missing for want of a count ("N of M parts without a value"; a part of 0 of 0 has no rate and
    misses none). A mean is recomputed from the summed cases and sum. A total is
    provisional when any part is. `counts_complete` says whether every count sums all the rows
    below it (false: at least one is such a lower bound, named in `note`).

      kpi:          the KPI model, ref('…')
      grain:        werkstatt | kreis | jobcenter | landschaftsverband: a row's Landschaftsverband is
                    the current register's (dim_workshops), its Kreis' (dim_regions), or its own
      period:       year | month
      counts:       the columns summed
      count_types:  {column: type} where a summed column is not a bigint
      count_sums:   {count: its SQL over the parts} where a count is not their plain sum (K07's
                    mean stock: the mean of the summed stocks, not the sum of rounded means)
      internal_sums: columns summed beside the counts that never leave (K07's summed stocks)
      rates:        {rate: its SQL over the summed counts}, e.g. percent('numerator', 'denominator')
      means:        {mean: [cases, sum, its SQL over the summed cases and sum]}
      own_landschaftsverband: the KPI table's own landschaftsverband column says whose a row is
      part_notes:   the KPI's rows have a `note` that qualifies their counts (K11: a Kreis whose own
                    Jobcenter sends nothing counts only other Jobcenters' customers; K10, K11, K14: record
                    pairs wait for review): a total says, for each of the notes ("; " between them),
                    how many of its parts carry it ("N of M parts: <note>"), else it reads as complete
-#}
{% macro kpi_totals(
    kpi, grain, period, counts, count_types={}, rates={}, means={}, own_landschaftsverband=false,
    part_notes=false, count_sums={}, internal_sums=[]
) -%}
with parts as (
    select
        kpi_rows.*,
        {%- if own_landschaftsverband or grain == 'landschaftsverband' %}
            kpi_rows.landschaftsverband as part_landschaftsverband
        {%- elif grain == 'werkstatt' %}
            workshops.landschaftsverband as part_landschaftsverband
        {%- else %}
            regions.landschaftsverband as part_landschaftsverband
        {%- endif %}
        {%- if grain == 'jobcenter' %},
            regions.vergleichsgruppe as part_vergleichsgruppe
        {%- endif %}
    from {{ kpi }} as kpi_rows
    {%- if grain == 'werkstatt' %}
        left join {{ ref('dim_workshops') }} as workshops
            on kpi_rows.werkstatt_nr = workshops.werkstatt_nr and workshops.is_current
    {%- elif not own_landschaftsverband and grain in ('kreis', 'jobcenter') %}
        left join {{ ref('dim_regions') }} as regions
            on kpi_rows.{{ 'jobcenter' if grain == 'jobcenter' else 'kreisschluessel' }} = regions.kreisschluessel
    {%- endif %}
),

{%- if grain != 'landschaftsverband' %}

landschaftsverband_summed as (
    {{ _kpi_totals_summed(
        'parts', "'landschaftsverband'", 'part_landschaftsverband', period, counts, count_types, rates, means,
        part_notes=part_notes, count_sums=count_sums, internal_sums=internal_sums
    ) }}
),

landschaftsverband_totals as (
    {{ _kpi_totals_rated('landschaftsverband_summed', period, counts, rates, means, part_notes, internal_sums) }}
),
{%- endif %}

nrw_summed as (
    {{ _kpi_totals_summed(
        'parts' if grain == 'landschaftsverband' else 'landschaftsverband_totals',
        "'nrw'", "'NRW'", period, counts, count_types, rates, means, of_totals=grain != 'landschaftsverband',
        part_notes=part_notes, count_sums=count_sums, internal_sums=internal_sums
    ) }}
),

nrw_totals as (
    {{ _kpi_totals_rated('nrw_summed', period, counts, rates, means, part_notes, internal_sums) }}
)
{%- if grain == 'jobcenter' %},

peer_group_summed as (
    {{ _kpi_totals_summed(
        'parts', "'vergleichsgruppe'", 'part_vergleichsgruppe', period, counts, count_types, rates, means,
        part_notes=part_notes, count_sums=count_sums, internal_sums=internal_sums
    ) }}
),

peer_group_totals as (
    {{ _kpi_totals_rated('peer_group_summed', period, counts, rates, means, part_notes, internal_sums) }}
)
{%- endif %}

{%- set carried -%}
    _base_parts, _base_empty{% for column in counts %}, _{{ column }}_base_missing{% endfor %}
    {%- for rate in rates %}, _{{ rate }}_base_missing{% endfor %}
    {%- if part_notes %}, _part_notes{% endif %}
{%- endset %}

{%- if grain == 'jobcenter' %},

totals as (
    select * from landschaftsverband_totals
    union all
    select * from nrw_totals
    union all
    select * from peer_group_totals
),

{#- A total of Jobcenters sums those that sent data for its period: while some of a region's
    Jobcenters send nothing (or a month's file is overdue), its note says how many are in the sum
    (a partners' review: "NRW insgesamt" of the demo's three Jobcenters read as a statewide
    figure). -#}
jobcenters_of_region as (
    select
        'landschaftsverband' as level,
        landschaftsverband as region,
        count(*) as jobcenters
    from {{ ref('dim_regions') }}
    group by all
    union all
    select
        'nrw' as level,
        'NRW' as region,
        count(*) as jobcenters
    from {{ ref('dim_regions') }}
    union all
    select
        'vergleichsgruppe' as level,
        vergleichsgruppe as region,
        count(*) as jobcenters
    from {{ ref('dim_regions') }}
    group by all
)

select
    totals.* exclude ({{ carried }}) replace (
        nullif(concat_ws(
            '; ',
            totals.note,
            case
                when totals._base_parts - totals._base_empty between 1 and regions.jobcenters - 1
                    then (totals._base_parts - totals._base_empty) || ' of ' || regions.jobcenters
                    || ' Jobcenters in the sum: the others have no figures for the period (no data sent, '
                    || 'or a figure missing)'
            end
        ), '') as note
    )
from totals
left join jobcenters_of_region as regions on totals.level = regions.level and totals.region = regions.region
{%- else %}
{%- if grain != 'landschaftsverband' %}

select * exclude ({{ carried }}) from landschaftsverband_totals
union all
{%- endif %}
select * exclude ({{ carried }}) from nrw_totals
{%- endif %}
{%- endmacro %}


{#- One level's sums: per region and period, the counts, the parts without a rate, the means' sums;
    and, carried up from the KPI's own rows (of_totals: rows that are totals themselves), how many
    rows are below and how many of them have no value for each count. -#}
{% macro _kpi_totals_summed(
    rows, level, region, period, counts, count_types, rates, means, of_totals=false, part_notes=false,
    count_sums={}, internal_sums=[]
) -%}
    select
        {{ level }} as level,
        {{ region }} as region,
        {{ period }},
        count(*) as parts,
        {{ 'sum(_base_parts)' if of_totals else 'count(*)' }} as _base_parts,
        {#- rows below without any count (a Jobcenter's month whose file is overdue): not in the sum -#}
        {%- set empty -%}
            {% for column in counts %}{{ ' and ' if not loop.first }}{{ column }} is null{% endfor %}
        {%- endset %}
        {{ 'sum(_base_empty)' if of_totals else 'count(*) filter (where ' ~ empty ~ ')' }} as _base_empty,
        {%- for column in internal_sums %}
            cast(sum({{ column }}) as bigint) as {{ column }},
        {%- endfor %}
        {%- for column in counts %}
            cast({{ count_sums.get(column, 'sum(' ~ column ~ ')') }} as {{ count_types.get(column, 'bigint') }})
                as {{ column }},
            {%- if of_totals %}
                sum(_{{ column }}_base_missing) as _{{ column }}_base_missing,
            {%- else %}
                count(*) - count({{ column }}) as _{{ column }}_base_missing,
            {%- endif %}
        {%- endfor %}
        {#- A part misses its rate where it has none although its counts would give one (withheld:
            a count under it is missing, K10's Landschaftsverband with a silent workshop) or a count
            is missing. A part of 0 of 0 (its counts all there, its rate undefined: a workshop
            without transitions) misses none, and its counts sum like any others (an audit: LWL's
            K04 total of 2024 was withheld, "1 of 6 parts without a value", for such a workshop).
            Carried up as how many parts below miss it, so that NRW's total tells the two apart. -#}
        {%- set counts_there -%}
            {% for column in counts %}{{ ' and ' if not loop.first }}{{ column }} is not null{% endfor %}
        {%- endset %}
        {%- for rate, expression in rates.items() %}
            {%- if of_totals %}
                count(*) filter (where _{{ rate }}_base_missing > 0) as {{ rate }}_parts_missing,
                sum(_{{ rate }}_base_missing) as _{{ rate }}_base_missing,
            {%- else %}
                {%- set misses %}{{ rate }} is null and not ({{ counts_there }} and ({{ expression }}) is null){% endset %}
                count(*) filter (where {{ misses }}) as {{ rate }}_parts_missing,
                count(*) filter (where {{ misses }}) as _{{ rate }}_base_missing,
            {%- endif %}
        {%- endfor %}
        {%- if part_notes %}
            {#- every note of every row below, once per row that has it -#}
            {%- if of_totals %}
                flatten(list(_part_notes) filter (where _part_notes is not null)) as _part_notes,
            {%- else %}
                flatten(list(string_split(note, '; ')) filter (where note is not null)) as _part_notes,
            {%- endif %}
        {%- endif %}
        {%- for mean, (cases, total, _) in means.items() %}
            {#- sums of money in whole cents: a sum of doubles depends on the order of its parts -#}
            case
                when sum({{ cases }}) is not null
                    then cast(coalesce(sum(cast({{ total }} as decimal(38, 2))), 0) as double)
            end as {{ total }},
        {%- endfor %}
        bool_or(is_provisional) as is_provisional
    from {{ rows }}
    group by all
{%- endmacro %}


{#- One level's rows: the rates and means recomputed from the sums, and why a figure is missing. -#}
{% macro _kpi_totals_rated(summed, period, counts, rates, means, part_notes=false, internal_sums=[]) -%}
    select
        level,
        region,
        case
            when level = 'vergleichsgruppe' then 'Vergleichsgruppe: ' || region else region || ' insgesamt'
        end as region_name,
        {{ period }},
        _base_parts,
        _base_empty,
        {%- for column in internal_sums %}
            {{ column }},
        {%- endfor %}
        {%- for column in counts %}
            {{ column }},
            _{{ column }}_base_missing,
        {%- endfor %}
        {%- if part_notes %}
            _part_notes,
        {%- endif %}
        {%- for rate, expression in rates.items() %}
            case when {{ rate }}_parts_missing = 0 then {{ expression }} end as {{ rate }},
            _{{ rate }}_base_missing,
        {%- endfor %}
        {%- for mean, (cases, total, expression) in means.items() %}
            case when {{ cases }} is not null then {{ expression }} end as {{ mean }},
            {{ total }},
        {%- endfor %}
        is_provisional,
        {#- whether each count sums every row below (an analysts' review filtered totals by it) -#}
        {%- for column in counts %}
            {{ 'and' if not loop.first }} _{{ column }}_base_missing = 0
        {%- endfor %} as counts_complete,
        coalesce(
            {%- for rate in rates | reverse %}
                case
                    when {{ rate }}_parts_missing > 0
                        then {{ rate }}_parts_missing || ' of ' || parts || ' parts without a value'
                end,
            {%- endfor %}
            {%- for rate, expression in rates.items() %}
                case when ({{ expression }}) is null and {{ rate }}_parts_missing = 0
                    {%- for column in counts %} and {{ column }} is not null{% endfor %}
                    then 'no rate: its denominator is 0'
                end,
            {%- endfor %}
            'no part has a value for ' || nullif(concat_ws(
                ', '
                {%- for column in counts %},
                    case when {{ column }} is null then '{{ column }}' end
                {%- endfor %}
            ), '')
        ) as missing_reason,
        nullif(concat_ws(
            '; ',
            {#- every count short of the same parts (K06's month of an overdue Jobcenter file): said once -#}
            {%- set first = '_' ~ counts[0] ~ '_base_missing' %}
            {%- set alike -%}
                {{ counts | length > 1 }}
                {%- for column in counts %} and _{{ column }}_base_missing = {{ first }}{% endfor %}
            {%- endset %}
            case
                when {{ alike }} and {{ first }} between 1 and _base_parts - 1
                    then 'every count: ' || {{ first }} || ' of ' || _base_parts || ' parts without a value'
            end
            {%- for column in counts %},
                case
                    when not ({{ alike }}) and _{{ column }}_base_missing between 1 and _base_parts - 1
                        then '{{ column }}: ' || _{{ column }}_base_missing || ' of ' || _base_parts
                        || ' parts without a value'
                end
            {%- endfor %}
            {%- if part_notes %},
                list_aggregate(
                    list_transform(
                        list_sort(list_distinct(_part_notes)),
                        lambda part_note: len(list_filter(_part_notes, lambda noted: noted = part_note))
                        || ' of ' || _base_parts || ' parts: ' || part_note
                    ),
                    'string_agg', '; '
                )
            {%- endif %}
        ), '') as note
    from {{ summed }}
{%- endmacro %}
