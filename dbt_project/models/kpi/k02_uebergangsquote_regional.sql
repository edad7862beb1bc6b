-- K02 and K03 rolled up to the Kreis of the workshops' seats and to the Landschaftsverband, as
-- sums of the workshop figures (kpis.md "Which Kreis"). A region with a workshop whose figure is
-- missing is missing too (a sum over unknown parts would understate): its persons where a
-- workshop's previous December is missing, its transitions where a workshop sent none for the
-- year. Grain: level, region, year.
with workshops as (
    select * from {{ ref('k02_uebergangsquote') }}
),

by_region as (
    select
        case when grouping(kreisschluessel) = 0 then 'kreis' else 'landschaftsverband' end as level,
        coalesce(kreisschluessel, landschaftsverband) as region,
        landschaftsverband,
        year,
        cast(sum(numerator) as bigint) as numerator,
        cast(sum(denominator) as bigint) as denominator,
        count(*) as workshops,
        count(*) filter (where denominator is null) as workshops_missing,
        count(*) filter (where numerator is null) as workshops_without_transitions
    from workshops
    group by landschaftsverband, year, rollup(kreisschluessel)
)

select
    level,
    region,
    landschaftsverband,
    year,
    case when workshops_without_transitions = 0 then numerator end as numerator,
    case when workshops_missing = 0 then denominator end as denominator,
    case
        when workshops_missing = 0 and workshops_without_transitions = 0
            then {{ percent('numerator', 'denominator') }}
    end as value,
    case
        when
            workshops_missing = 0 and workshops_without_transitions = 0
            then {{ rounded_ratio('numerator * 1000', 'denominator') }}
    end as value_per_1000,
    workshops,
    false as is_provisional,
    nullif(concat_ws(
        '; ',
        case
            when workshops_missing > 0 then workshops_missing || ' workshop(s) without the previous December'
        end,
        case
            when workshops_without_transitions > 0
                then workshops_without_transitions || ' workshop(s) without transitions for the year'
        end
    ), '') as missing_reason
from by_region
