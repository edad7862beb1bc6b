{#-
    kpis.md "Same employer": lower case; ä→ae, ö→oe, ü→ue, ß→ss; accents stripped; every character
    other than a-z and 0-9 a blank; the words ggmbh gmbh mbh ag aor kg eg ohg co ev and the pair
    "e v" dropped; blanks collapsed. Two names are the same employer when their keys are equal.
-#}
{% macro employer_key(name) -%}
    array_to_string(
        list_filter(
            string_split(
                regexp_replace(
                    ' ' || regexp_replace(
                        strip_accents(
                            replace(replace(replace(replace(lower({{ name }}), 'ä', 'ae'), 'ö', 'oe'), 'ü', 'ue'), 'ß', 'ss')
                        ),
                        '[^a-z0-9]+', ' ', 'g'
                    ) || ' ',
                    ' e v ', ' ', 'g'
                ),
                ' '
            ),
            word -> word != '' and word not in ('ggmbh', 'gmbh', 'mbh', 'ag', 'aor', 'kg', 'eg', 'ohg', 'co', 'ev')
        ),
        ' '
    )
{%- endmacro %}
