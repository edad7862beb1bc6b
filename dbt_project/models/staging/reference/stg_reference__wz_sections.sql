select
    section,
    cast(first_division as integer) as first_division,
    cast(last_division as integer) as last_division,
    title as section_title
from {{ ref('wz2008_sections') }}
