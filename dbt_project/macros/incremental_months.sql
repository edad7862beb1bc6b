{#-
    Incremental by delivered month: a model at the grain (sender, month) recomputes only the
    (sender, month) partitions that a delivery received since its last build touched (a new month,
    or a correction of an old one), and replaces them (delete+insert on the partition key). Each row
    remembers the last delivery the build had seen.
-#}
{% macro delivered_through() -%}
    (select coalesce(max(delivery_id), 0) from {{ source('ops', 'delivery_log') }})
{%- endmacro %}

{% macro changed_partitions(source_system, sender_column, month_column) -%}
    {%- if is_incremental() %}
        and ({{ sender_column }}, {{ month_column }}) in (
            select (sender, period) from {{ ref('stg_ops__deliveries') }}
            where
                source_system = '{{ source_system }}'
                and delivery_id > (select coalesce(max(delivered_through), 0) from {{ this }})
        )
    {%- endif %}
{%- endmacro %}
