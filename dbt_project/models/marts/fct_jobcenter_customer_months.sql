-- Jobcenter customers in the target group per Stichtag. Grain: Jobcenter, month, customer.
-- Incremental by delivered month.
{{ config(
    materialized='incremental',
    unique_key=['jobcenter', 'month'],
    incremental_strategy='delete+insert',
    post_hook="{{ delete_emptied_partitions('jc', 'jobcenter', 'month') }}",
) }}
-- depends_on: {{ ref('stg_ops__deliveries') }}

select
    jobcenter,
    month,
    stichtag,
    kunde_key,
    person_key,
    birth_year,
    sex,
    degree_of_disability,
    has_gleichstellung,
    is_severely_disabled,
    is_gleichgestellt,
    is_rehabilitand,
    is_unemployed,
    benefit_since,
    {{ delivered_through() }} as delivered_through
from {{ ref('stg_jc__customers') }}
where true {{ changed_partitions('jc', 'jobcenter', 'month') }}
