-- The two-digit divisions (Abteilungen) of WZ 2008 with their section (Abschnitt) and its German
-- title: the decode of an industry_wz `NN.NN` by its first two digits. Grain: division.
with divisions as (
    select
        section,
        section_title,
        unnest(generate_series(first_division, last_division)) as division
    from {{ ref('stg_reference__wz_sections') }}
)

select
    lpad(cast(division as varchar), 2, '0') as division,
    section,
    section_title
from divisions
