{#- The columns together identify a row (a primary key of several columns). Grouping millions of
    rows by one 64-bit hash first is about twice as fast as grouping by the columns; only rows whose
    hash repeats are then grouped by their values (a hash collision can never hide a duplicate). -#}
{% test unique_combination(model, columns) %}
{%- set key = columns | join(', ') %}
with repeated_hashes as (
    select hash({{ key }}) as row_hash
    from {{ model }}
    group by row_hash
    having count(*) > 1
)

select
    {{ key }},
    count(*) as occurrences
from {{ model }}
where hash({{ key }}) in (select repeated_hashes.row_hash from repeated_hashes)
group by {{ key }}
having count(*) > 1
{% endtest %}
