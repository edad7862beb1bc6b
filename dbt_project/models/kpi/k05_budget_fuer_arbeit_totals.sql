-- K05 Budget für Arbeit, Landschaftsverband and NRW totals: the mean subsidy of the summed cases and
-- subsidies, per year (macro kpi_totals).
{{ kpi_totals(
    ref('k05_budget_fuer_arbeit'),
    grain='kreis',
    period='year',
    counts=['active_cases', 'new_cases'],
    means={
        'mean_monthly_subsidy_eur': [
            'active_cases', 'subsidy_sum_eur',
            rounded_ratio('cast(round(subsidy_sum_eur * 100) as bigint)', 'active_cases * 100')
        ]
    },
    own_landschaftsverband=true
) }}
