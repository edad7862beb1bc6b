-- K07 Integrationsquote SB/GL, Landschaftsverband and NRW totals: the rate of the summed integration months
-- over the mean of the summed stocks, per month (macro kpi_totals). The mean comes from the Jobcenters'
-- summed twelve stocks, not from their means rounded to cents (a partners' review found 3919,51 for
-- 3919,50 beside the peer group's K06).
{{ kpi_totals(
    ref('k07_integrationsquote_sb'),
    grain='jobcenter',
    period='month',
    counts=['numerator', 'denominator'],
    count_types={'denominator': 'decimal(18, 2)'},
    count_sums={'denominator': rounded_ratio('sum(sb_gl_stock_months)', '12')},
    internal_sums=['sb_gl_stock_months'],
    rates={'value': percent('numerator * 12', 'sb_gl_stock_months')}
) }}
