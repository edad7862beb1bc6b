-- K11 Vom Jobcenter in die Werkstatt, Landschaftsverband and NRW totals: sums of the Kreise' entrants, per
-- year (macro kpi_totals); a total says how many of its Kreise count only the customers of other
-- Jobcenters (their own sends nothing).
{{ kpi_totals(
    ref('k11_jobcenter_in_werkstatt'),
    grain='kreis',
    period='year',
    counts=['entrants', 'from_jobcenter'],
    part_notes=true
) }}
