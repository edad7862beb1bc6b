-- K07 Integrationsquote SB/GL: integration months in t-11 ... t of persons who were SB or GL in
-- that month / mean SB+GL count over t-12 ... t-1 * 100; needs 13 loaded months, and the
-- integrationen files of t-11 ... t (a month without one has unknown integrations, not none); a
-- month whose kunden file is overdue is missing, with the reason. Grain: Jobcenter, month.
with integration_counts as (
    select
        jobcenter,
        month_index,
        count(*) filter (where counts_for_k07) as integration_months
    from {{ ref('fct_integration_months') }}
    group by jobcenter, month_index
),

-- the first month of a Jobcenter's data (loaded, or overdue: a rejected first file): a window
-- that begins before it cannot be filled by any file (a partners' review read "the file of 01/2023
-- is overdue" under every month of 2023, whose windows reach into 2022)
first_months as (
    select
        jobcenter,
        min(month) as first_month
    from (
        select
            jobcenter,
            month
        from {{ ref('int_jobcenter_months') }}
        union all
        select
            jobcenter,
            month
        from {{ ref('int_jobcenter_overdue_months') }}
    )
    group by jobcenter
),

windows as (
    select
        months.jobcenter,
        months.month,
        first_months.first_month,
        count(*) over twelve_to_now as loaded_months,
        count(*) filter (where months.has_integrationen_file) over eleven_to_now as integration_files,
        sum(coalesce(integration_counts.integration_months, 0)) over eleven_to_now as integration_months,
        sum(months.sb + months.gl) over twelve_before as sb_gl_total
    from {{ ref('int_jobcenter_months') }} as months
    inner join first_months on months.jobcenter = first_months.jobcenter
    left join integration_counts
        on
            months.jobcenter = integration_counts.jobcenter
            and months.month_index = integration_counts.month_index
    window
        twelve_to_now as (
            partition by months.jobcenter
            order by months.month_index range between 12 preceding and current row
        ),
        eleven_to_now as (
            partition by months.jobcenter
            order by months.month_index range between 11 preceding and current row
        ),
        twelve_before as (
            partition by months.jobcenter
            order by months.month_index range between 12 preceding and 1 preceding
        )
),

complete as (
    select
        *,
        loaded_months = 13 and integration_files = 12 as is_complete
    from windows
)

select
    jobcenter,
    month,
    case when is_complete then cast(integration_months as bigint) end as numerator,
    case when is_complete then {{ rounded_ratio('sb_gl_total', '12') }} end as denominator,
    -- the twelve stocks the mean is of: totals sum them, so that their mean is exact (kpis.md)
    case when is_complete then cast(sb_gl_total as bigint) end as sb_gl_stock_months,
    case when is_complete then {{ percent('integration_months * 12', 'sb_gl_total') }} end as value,
    false as is_provisional,
    case
        when
            loaded_months < 13
            and strftime(cast(month || '-01' as date) - interval 12 month, '%Y-%m') < first_month
            then
                'needs 13 loaded months (t-12 ... t): kunden data of ' || jobcenter || ' only from '
                || first_month
        when loaded_months < 13
            then
                'needs 13 loaded months (t-12 ... t)'
                || {{ overdue_in(
                    'jobcenter', 'kunden',
                    "strftime(cast(month || '-01' as date) - interval 12 month, '%Y-%m')", 'month'
                ) }}
        when integration_files < 12
            then
                'needs the integrationen files of t-11 ... t'
                || {{ overdue_in(
                    'jobcenter', 'integrationen',
                    "strftime(cast(month || '-01' as date) - interval 11 month, '%Y-%m')", 'month'
                ) }}
    end as missing_reason
from complete
union all
select
    jobcenter,
    month,
    null as numerator,
    null as denominator,
    null as sb_gl_stock_months,
    null as value,
    false as is_provisional,
    missing_reason
from {{ ref('int_jobcenter_overdue_months') }}
