-- One row per workshop and register version: attributes valid from the day the register came.
with versions as (
    select
        *,
        lead(register_received_on) over (
            partition by werkstatt_nr order by register_received_on, delivery_id
        ) as next_version_on
    from {{ ref('stg_lv__workshops') }}
)

select
    versions.werkstatt_nr,
    versions.workshop_name,
    versions.operator,
    versions.town,
    versions.postcode,
    versions.kreisschluessel,
    regions.kreis_name,
    versions.landschaftsverband,
    versions.recognised_places,
    versions.recognised_since,
    versions.register_received_on as valid_from,
    versions.next_version_on - 1 as valid_to,
    versions.next_version_on is null as is_current
from versions
left join {{ ref('dim_regions') }} as regions on versions.kreisschluessel = regions.kreisschluessel
