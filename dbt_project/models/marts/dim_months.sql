-- Calendar months of the loaded data, with their Stichtag.
with bounds as (
    select
        min(cast(period || '-01' as date)) as first_month,
        max(cast(period || '-01' as date)) as last_month
    from {{ ref('stg_ops__deliveries') }}
    where length(period) = 7
),

months as (
    select cast(unnest(generate_series(first_month, last_month, interval 1 month)) as date) as month_start
    from bounds
)

select
    strftime(month_start, '%Y-%m') as month,
    month_start,
    last_day(month_start) as stichtag,
    cast(extract(year from month_start) as integer) as year,
    cast(extract(month from month_start) as integer) as month_of_year
from months
