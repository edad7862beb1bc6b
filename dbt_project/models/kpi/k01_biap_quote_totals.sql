-- K01 BiAp-Quote, Landschaftsverband and NRW totals: the BiAp-Quote of the summed persons, per year (macro
-- kpi_totals), with the total's value of the year before beside it as a workshop's row has it.
with totals as (
    {{ kpi_totals(
        ref('k01_biap_quote'),
        grain='werkstatt',
        period='year',
        counts=['numerator', 'denominator'],
        rates={'value': percent('numerator', 'denominator')}
    ) | indent(4) }}
)

select
    this_year.level,
    this_year.region,
    this_year.region_name,
    this_year.year,
    this_year.numerator,
    this_year.denominator,
    this_year.value,
    last_year.value as value_prev_year,
    this_year.is_provisional,
    {{ with_previous_year_reason('this_year', 'last_year', 'region', years='totals') }} as missing_reason,
    this_year.counts_complete,
    this_year.note
from totals as this_year
left join totals as last_year
    on
        this_year.level = last_year.level
        and this_year.region = last_year.region
        and this_year.year = last_year.year + 1
