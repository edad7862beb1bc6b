{#-
    Incremental by delivered month: a model at the grain (sender, month) recomputes only the
    (sender, month) partitions that a delivery received since its last build touched (a new month,
    or a correction of an old one), and replaces them (delete+insert on the partition key). Each row
    remembers the last delivery the build had seen.

    delete+insert deletes only the partitions the new rows name: a correction that leaves a month
    without rows (a header-only file, nobody left in the work area) would keep the old rows. After
    the insert, exactly those rows are older than their partition's newest delivery; a post-hook
    (delete_emptied_partitions) removes them.
-#}
{% macro delivered_through() -%}
    (select coalesce(max(delivery_id), 0) from {{ source('ops', 'delivery_log') }})
{%- endmacro %}

{#- The month alone as well: DuckDB pushes a filter on one column into the scan of the landing
    table (its row groups of other months are skipped), not one on the pair. At NRW 5 years a new
    month's workshop partitions are found in 0.05 s instead of 1-1.4 s. -#}
{% macro changed_partitions(source_system, sender_column, month_column) -%}
    {%- if is_incremental() and has_bookkeeping() %}
        {%- set new_deliveries -%}
            from {{ ref('stg_ops__deliveries') }}
            where
                source_system = '{{ source_system }}'
                and delivery_id > (select coalesce(max(delivered_through), 0) from {{ this }})
        {%- endset %}
        and {{ month_column }} in (select period {{ new_deliveries }})
        and ({{ sender_column }}, {{ month_column }}) in (select (sender, period) {{ new_deliveries }})
    {%- endif %}
{%- endmacro %}

{% macro delete_emptied_partitions(source_system, sender_column, month_column) -%}
    delete from {{ this }} as built
    using (
        select
            sender,
            period,
            max(delivery_id) as newest
        from {{ ref('stg_ops__deliveries') }}
        where source_system = '{{ source_system }}'
        group by sender, period
    ) as deliveries
    where
        built.{{ sender_column }} = deliveries.sender
        and built.{{ month_column }} = deliveries.period
        and built.delivered_through < deliveries.newest
{%- endmacro %}


{#-
    A table built before its model became incremental has no bookkeeping column: its first
    incremental build takes every partition again (its rows replaced, the column added by the
    model's on_schema_change='append_new_columns'), the next ones only the new.
-#}
{% macro has_bookkeeping() -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return('delivered_through' in columns) }}
{%- endmacro %}
