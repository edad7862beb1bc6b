{#-
    Incremental by sender, for models that summarise each sender's whole history (a workshop
    membership, a person's record, a status spell). Summarised again from every monthly snapshot,
    they grew with the years, though a new month only extends them.

    The senders with a delivery since the table was last built are taken again, each one either
    - extended (appends): every new month is later than all it had delivered before; its summary
      is the old rows merged with a summary of the new months alone; or
    - summarised anew from all its months: a correction of a month already summarised, a month
      delivered late, a held file loaded later.
    All of a changed sender's rows are written again (delete+insert on the sender), each row with
    the delivery the build had seen (delivered_through); the other senders' rows stay as they are.
    A full refresh, or a table built before its model was incremental, summarises every sender
    (the models use these macros only where extends_summaries()).
-#}
{% macro changed_senders(source_system) -%}
    with deliveries as (
        select
            sender,
            period,
            delivery_id > (select coalesce(max(delivered_through), 0) from {{ this }}) as is_new
        from {{ ref('stg_ops__deliveries') }}
        where source_system = '{{ source_system }}'
    )

    select
        sender,
        coalesce(min(period) filter (where is_new) > max(period) filter (where not is_new), false) as appends,
        max(period) filter (where not is_new) as summarised_through
    from deliveries
    group by sender
    having bool_or(is_new)
{%- endmacro %}

{#- Whether the build merges the old rows of the senders that append (an incremental build of a
    table that has its bookkeeping), or summarises every sender. -#}
{% macro extends_summaries() -%}
    {{ return(is_incremental() and has_bookkeeping()) }}
{%- endmacro %}

{#- The snapshots to summarise, a join of the staging model's ``relation`` (by its alias) with
    ``senders`` (changed_senders), in an incremental build: all of a sender summarised anew, only
    the new months of one that appends. The month bound alone lets DuckDB skip the older months'
    row groups when every changed sender appends (a new month at NRW 5 years: 0.02 s instead of
    0.2 s). A full build takes every snapshot. -#}
{% macro only_changed_senders(relation, sender_column, month_column, senders='senders') -%}
    {%- if extends_summaries() %}
        inner join {{ senders }}
            on
                {{ relation }}.{{ sender_column }} = {{ senders }}.sender
                and (not {{ senders }}.appends or {{ relation }}.{{ month_column }} > {{ senders }}.summarised_through)
                and {{ relation }}.{{ month_column }} > (
                    select case when bool_and(appends) then min(summarised_through) else '' end from {{ senders }}
                )
    {%- endif %}
{%- endmacro %}

{#- A sender whose new delivery left it without any row (a correction holding only the header)
    was not written again: its old rows are older than its newest delivery, and go. -#}
{% macro delete_unwritten_senders(source_system, sender_column, only_where='true') -%}
    delete from {{ this }} as built
    using (
        select
            sender,
            max(delivery_id) as newest
        from {{ ref('stg_ops__deliveries') }}
        where source_system = '{{ source_system }}'
        group by sender
    ) as deliveries
    where
        built.{{ sender_column }} = deliveries.sender
        and built.delivered_through < deliveries.newest
        and {{ only_where }}
{%- endmacro %}
