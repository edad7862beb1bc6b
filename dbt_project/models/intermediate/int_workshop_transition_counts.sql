-- Each workshop's transitions per year, of which Budget für Arbeit, for the years from which it
-- delivered transitions at all (an uebergaenge file, or a workbook, for some month of the year: a
-- quiet month's header-only file says "none"). A workshop that sent none for a year has no row, so
-- its count is missing, not 0 (kpis.md): a workshop recognised but silent is no workshop without
-- transitions.
with delivered_years as (
    select distinct
        sender as werkstatt_nr,
        cast(left(period, 4) as integer) as year
    from {{ ref('stg_ops__deliveries') }}
    where source_system = 'wfbm' and length(period) = 7 and (part = 'uebergaenge' or format = 'wfbm_xlsx')
),

transitions as (
    select
        werkstatt_nr,
        transition_year as year,
        count(*) as transitions,
        count(*) filter (where transition_kind = 'budget_fuer_arbeit') as bfa
    from {{ ref('int_transitions_deduplicated') }}
    group by werkstatt_nr, transition_year
)

select
    delivered_years.werkstatt_nr,
    delivered_years.year,
    coalesce(transitions.transitions, 0) as transitions,
    coalesce(transitions.bfa, 0) as bfa
from delivered_years
left join transitions
    on delivered_years.werkstatt_nr = transitions.werkstatt_nr and delivered_years.year = transitions.year
