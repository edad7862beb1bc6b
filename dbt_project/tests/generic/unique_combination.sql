{#- The columns together identify a row (a primary key of several columns). Grouping millions of
    rows by one 64-bit hash first is about twice as fast as grouping by the columns; only rows whose
    hash repeats are then grouped by their values (a hash collision can never hide a duplicate).

    only_last_build: for a model incremental by delivered partition (macros/incremental_months.sql)
    whose key includes the partition: only the rows its last build wrote (a duplicate lies within
    one partition, and a partition is written whole). A full build writes every row, so it tests
    every row; a new month tests one month instead of all (NRW 5 years: 1.1 s of 2.2 s per model). -#}
{% test unique_combination(model, columns, only_last_build=false) %}
{%- set key = columns | join(', ') %}
with tested as (
    select {{ key }}
    from {{ model }}
    {%- if only_last_build %}
        where delivered_through = (select max(delivered_through) from {{ model }})
    {%- endif %}
),

repeated_hashes as (
    select hash({{ key }}) as row_hash
    from tested
    group by row_hash
    having count(*) > 1
)

select
    {{ key }},
    count(*) as occurrences
from tested
where hash({{ key }}) in (select repeated_hashes.row_hash from repeated_hashes)
group by {{ key }}
having count(*) > 1
{% endtest %}
