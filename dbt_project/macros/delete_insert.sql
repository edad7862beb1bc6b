{#-
    dbt-duckdb's delete+insert, except that a key of several columns is matched against the new
    rows' distinct keys. dbt-duckdb joins the table with every new row: a key shared by many rows
    (a sender's records: thousands each) made the delete a join of millions of pairs (9 s for
    int_person_source_records at NRW 5 years).
-#}
{% macro duckdb__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set dest_cols_csv = get_quoted_csv(dest_columns | map(attribute="name")) -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- if keys %}
        delete from {{ target }} as dbt_incremental_target
        using (select distinct {{ keys | join(', ') }} from {{ source }}) as new_keys
        where
            {% for key in keys -%}
                new_keys.{{ key }} = dbt_incremental_target.{{ key }}{{ " and" if not loop.last }}
            {% endfor -%}
            {%- for predicate in incremental_predicates or [] %}
                and {{ predicate }}
            {%- endfor %};
    {%- endif %}

    insert into {{ target }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ source }}
    )
{%- endmacro %}
