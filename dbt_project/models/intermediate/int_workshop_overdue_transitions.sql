-- Each workshop's overdue uebergaenge files per year (ops.expected_deliveries), as the note K10 and
-- K14 put on the figures that count its transitions. Grain: workshop, year.
select
    grain.werkstatt_nr,
    grain.landschaftsverband,
    grain.kreisschluessel,
    grain.year,
    {{ overdue_files_note('expected', 'its transitions are missing') }} as note
from {{ ref('int_workshop_years') }} as grain
inner join {{ ref('expected_deliveries') }} as expected
    on
        grain.werkstatt_nr = expected.sender
        and expected.part = 'uebergaenge'
        and expected.status = 'overdue'
        and left(expected.period, 4) = cast(grain.year as varchar)
group by grain.werkstatt_nr, grain.landschaftsverband, grain.kreisschluessel, grain.year
