-- K11 Vom Jobcenter in die Werkstatt, Landschaftsverband and NRW totals: sums of the Kreise' entrants, per
-- year (macro kpi_totals).
{{ kpi_totals(
    ref('k11_jobcenter_in_werkstatt'),
    grain='kreis',
    period='year',
    counts=['entrants', 'from_jobcenter']
) }}
