{#-
    The data tests of the staging views over the landing tables (staging/wfbm, jc, lv: their
    `where` is '__untested_deliveries__', dbt_project.yml) check only the rows of the partitions
    (sender, period) a delivery touched since the last complete build whose tests all passed:
    landing rows only ever arrive with a new delivery, and a key that repeats lies within one
    sender's period. Every other row was tested when it arrived. At NRW 5 years a new month's
    tests of the Personenmeldungen took 3.6 s of 10 s of all tests, grouping 4.1 million rows.

    The mark (ops.tested_deliveries) is written by the pipeline after a complete build, with a
    fingerprint of every test and what it tests (orchestration/refresh.py); a build whose tests
    or models changed since finds no mark and tests every row. So does a build without a mark
    (a new data home, dbt run by hand on another warehouse) and `dbt build --full-refresh`.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where != '__untested_deliveries__' -%}
        {% do return(dbt.default__get_where_subquery(relation)) %}
    {%- endif -%}
    {%- set mark = adapter.get_relation(
        database=target.database, schema='ops', identifier='tested_deliveries'
    ) if execute else none -%}
    {%- if mark is none or flags.FULL_REFRESH -%}
        {% do return(relation) %}
    {%- endif -%}
    {%- set log = api.Relation.create(database=target.database, schema='ops', identifier='delivery_log') -%}
    {%- set filtered -%}
        (
            select * from {{ relation }}
            where delivery_id in (
                select touched.delivery_id
                from {{ log }} as touched
                where (touched.sender, touched.period) in (
                    select (arrived.sender, arrived.period)
                    from {{ log }} as arrived
                    where arrived.delivery_id > (select coalesce(max(tested_through), 0) from {{ mark }})
                )
            )
        ) dbt_subquery
    {%- endset -%}
    {% do return(filtered) %}
{%- endmacro %}
