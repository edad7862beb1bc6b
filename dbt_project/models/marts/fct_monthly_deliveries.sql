-- Which sender delivered which month, and whether completely: a workshop's month needs its three
-- tables (three CSV files or one workbook), a Jobcenter's its four files. Publishing delivers a
-- partner's period only when its scope's deliveries for it are in (a quiet month's header-only
-- file counts as delivered).
with parts as (
    select distinct
        source_system,
        sender,
        period as month,
        case when format = 'wfbm_xlsx' then 'personen,aussenarbeitsplaetze,uebergaenge' else part end
            as parts
    from {{ ref('stg_ops__deliveries') }}
    where source_system in ('wfbm', 'jc') and length(period) = 7
),

months as (
    select
        source_system,
        sender,
        month,
        list_distinct(flatten(list(string_split(parts, ',')))) as parts_delivered
    from parts
    group by all
)

select
    months.source_system,
    months.sender,
    coalesce(workshops.landschaftsverband, regions.landschaftsverband) as landschaftsverband,
    coalesce(workshops.kreisschluessel, regions.kreisschluessel) as kreisschluessel,
    months.month,
    list_sort(months.parts_delivered) as parts_delivered,
    len(months.parts_delivered) = case months.source_system when 'wfbm' then 3 else 4 end as is_complete
from months
left join {{ ref('dim_workshops') }} as workshops
    on months.sender = workshops.werkstatt_nr and workshops.is_current and months.source_system = 'wfbm'
left join {{ ref('dim_regions') }} as regions
    on months.sender = regions.kreisschluessel and months.source_system = 'jc'
