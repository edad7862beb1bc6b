-- K12 Abgleich Leistungsdokumentation: per workshop, year and figure (AB 31.12., BiAp 31.12.,
-- transitions, of which BFA) the figure the Landschaftsverband reports beside the one computed from
-- person-level data, their difference, and a status ok (equal), abweichung, or fehlt (one side
-- missing) with the reason: which file is missing, and since when it is overdue; a note where a
-- computed transitions count lacks overdue months. Grain: workshop, year, measure.
with measures as (
    select unnest(['ab', 'biap', 'transitions', 'bfa']) as measure
),

computed as (
    select
        grain.werkstatt_nr,
        grain.landschaftsverband,
        grain.year,
        december.ab_persons as ab,
        december.biap_persons as biap,
        transitions.transitions,
        transitions.bfa
    from {{ ref('int_workshop_years') }} as grain
    left join {{ ref('int_workshop_stichtag_counts') }} as december
        on grain.werkstatt_nr = december.werkstatt_nr and december.month = grain.year || '-12'
    left join {{ ref('int_workshop_transition_counts') }} as transitions
        on grain.werkstatt_nr = transitions.werkstatt_nr and grain.year = transitions.year
),

reported as (
    select
        werkstatt_nr,
        landschaftsverband,
        year,
        ab_persons_reported as ab,
        biap_persons_reported as biap,
        transitions_reported as transitions,
        bfa_transitions_reported as bfa
    from {{ ref('fct_reported_figures') }}
),

reported_years as (  -- the Leistungsdokumentation files that arrived
    select distinct
        landschaftsverband,
        year
    from reported
),

both_sides as (
    select
        coalesce(computed.werkstatt_nr, reported.werkstatt_nr) as werkstatt_nr,
        coalesce(computed.landschaftsverband, reported.landschaftsverband) as landschaftsverband,
        coalesce(computed.year, reported.year) as year,
        computed.werkstatt_nr is not null as has_workshop_data,
        computed.ab is not null as has_december_persons,
        measures.measure,
        case measures.measure
            when 'ab' then reported.ab when 'biap' then reported.biap
            when 'transitions' then reported.transitions when 'bfa' then reported.bfa
        end as reported,
        case measures.measure
            when 'ab' then computed.ab when 'biap' then computed.biap
            when 'transitions' then computed.transitions when 'bfa' then computed.bfa
        end as computed
    from computed
    full outer join
        reported
        on computed.werkstatt_nr = reported.werkstatt_nr and computed.year = reported.year
    cross join measures
)

select
    both_sides.werkstatt_nr,
    both_sides.year,
    both_sides.measure,
    both_sides.reported,
    both_sides.computed,
    both_sides.computed - both_sides.reported as difference,
    case
        when both_sides.reported is null or both_sides.computed is null then 'fehlt'
        when both_sides.reported = both_sides.computed then 'ok'
        else 'abweichung'
    end as status,
    nullif(concat_ws(
        '; ',
        case
            when both_sides.reported is not null then null
            when reported_years.year is null
                then
                    'no Leistungsdokumentation of ' || both_sides.landschaftsverband || ' for '
                    || both_sides.year || ' yet'
                    || {{ overdue('both_sides.landschaftsverband', 'leistungsdokumentation',
                                  'cast(both_sides.year as varchar)') }}
            else
                'the Leistungsdokumentation of ' || both_sides.landschaftsverband || ' for '
                || both_sides.year || ' has no row for the workshop'
        end,
        case
            when both_sides.computed is not null then null
            when not both_sides.has_workshop_data then 'no data of the workshop for the year'
            when both_sides.measure in ('transitions', 'bfa')
                then {{ no_transitions_file('both_sides.werkstatt_nr', 'both_sides.year') }}
            when both_sides.measure = 'biap' and both_sides.has_december_persons
                then {{ no_placements_file('both_sides.werkstatt_nr', 'both_sides.year') }}
            else
                'no personen snapshot for December ' || both_sides.year
                || {{ overdue('both_sides.werkstatt_nr', 'personen', "both_sides.year || '-12'") }}
        end
    ), '') as missing_reason,
    -- a computed count of transitions that lacks the months whose uebergaenge files are overdue
    -- (as K02's): an abweichung may be those months, not a fault of either side
    case
        when both_sides.measure in ('transitions', 'bfa') and both_sides.computed is not null
            then overdue_transitions.note
    end as note
from both_sides
left join reported_years
    on
        both_sides.landschaftsverband = reported_years.landschaftsverband
        and both_sides.year = reported_years.year
left join {{ ref('int_workshop_overdue_transitions') }} as overdue_transitions
    on
        both_sides.werkstatt_nr = overdue_transitions.werkstatt_nr
        and both_sides.year = overdue_transitions.year
