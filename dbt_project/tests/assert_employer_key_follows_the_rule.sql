-- kpis.md "Same employer": each pair is a spelling and its key; the rows returned break the rule.
-- noqa: disable=LT01
-- A check of dim_employers (its key follows this rule): built after it, shown as its asset check.
-- depends_on: {{ ref('dim_employers') }}
with cases as (
    select unnest([
        {'employer_name': 'Autohaus König AG', 'expected': 'autohaus koenig'},
        {'employer_name': 'AUTOHAUS KOENIG', 'expected': 'autohaus koenig'},
        {'employer_name': 'Sportverein Hagen 1904 e.V.', 'expected': 'sportverein hagen 1904'},
        {'employer_name': 'Sportverein Hagen 1904 e. V.', 'expected': 'sportverein hagen 1904'},
        {'employer_name': 'Müller Logistik GmbH & Co. KG', 'expected': 'mueller logistik'},
        {'employer_name': 'Caritas Wäscherei gGmbH', 'expected': 'caritas waescherei'},
        {'employer_name': 'Café Señor mbH', 'expected': 'cafe senor'},
        {'employer_name': 'Straße der Einheit eG', 'expected': 'strasse der einheit'}
    ], recursive := true)
)

select
    employer_name,
    expected,
    {{ employer_key('employer_name') }} as actual
from cases
where {{ employer_key('employer_name') }} != expected
