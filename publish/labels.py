"""What a partner reads: the German header and explanation of every extract column, the German
words for code values and missing reasons, and the symbols of the Statistik der Bundesagentur für
Arbeit. One table, ``COLUMNS``: CSV and XLSX use its German headers, Parquet keeps the typed
snake_case names for data teams, and the workbook's sheet "Erläuterungen" lists both.

A column's row is looked up by (KPI, column), then by column alone: ``numerator`` is
"BiAp (Personen)" in K01 and "Übergänge" in K02.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from publish.suppression import SUPPRESSED

# The symbols of the BA's statistics, used alike in every file and report.
NOT_COMPUTABLE = "x"
PROVISIONAL = "p"
SYMBOLS = (
    (SUPPRESSED, "Geheimhaltung: Fallzahl 1 oder 2, Quote mit Nenner unter 10 (samt Zähler), Mittelwert aus "
                 "weniger als 3 Fällen, oder sekundär gesperrt, damit kein gesperrter Wert aus Summen "
                 "zurückgerechnet werden kann (Praxis der Statistik der BA)."),
    (NOT_COMPUTABLE, "Wert nicht berechenbar oder nicht sinnvoll (etwa ein Rang in einer Summenzeile); warum "
                     "er fehlt, steht in der Spalte „fehlt, weil“ (er fehlt, er ist nicht 0)."),
    (PROVISIONAL, "vorläufig: der Zeitraum, den die Kennzahl nachverfolgt, ist noch nicht vollständig geliefert; "
                  "der Wert kann sich mit späteren Lieferungen ändern."),
)  # fmt: skip


@dataclass(frozen=True)
class Column:
    header: str  # German, in CSV and XLSX
    explanation: str  # German, in the sheet "Erläuterungen"


_RATE = "Quote in Prozent: Zähler ÷ Nenner × 100, auf 2 Nachkommastellen kaufmännisch gerundet."
_PROVISIONAL = Column("vorläufig", f"„{PROVISIONAL}“, solange der Zeitraum, den die Kennzahl nachverfolgt, nicht "
                                  "vollständig geliefert ist.")  # fmt: skip

COLUMNS: dict[tuple[str, str], Column] = {
    # the same in every KPI
    ("", "level"): Column("Ebene", "Werkstatt, Kreis oder Jobcenter: eine Zeile der Kennzahl; "
                                   "„Landschaftsverband insgesamt“ und „NRW insgesamt“: die Summe aller Zeilen der "
                                   "Kennzahl im Landschaftsverband bzw. in NRW, auch derer, die dieser Auszug nicht "
                                   "zeigt (fehlen Zeilen in der Summe, sagt es der „Hinweis“); „Vergleichsgruppe "
                                   "insgesamt“: die Summe der Jobcenter gleicher Form (gE, zkT) in Kreisen gleichen "
                                   "Typs (kreisfreie Stadt, Kreis), mit denen sich ein Jobcenter vergleicht, das "
                                   "eigene eingeschlossen."),
    ("", "werkstatt_nr"): Column("Werkstatt-Nr.", "Nummer der Werkstatt im Register des Landschaftsverbands."),
    ("", "werkstatt_name"): Column("Werkstatt", "Name der Werkstatt (aktuelles Register)."),
    ("", "landschaftsverband"): Column("Landschaftsverband", "LWL oder LVR: wessen Zeile es ist (leer bei NRW insgesamt)."),
    ("", "kreisschluessel"): Column("Kreisschlüssel", "Amtlicher Kreisschlüssel (5 Stellen) des Kreises."),
    ("", "kreis_name"): Column("Kreis", "Name des Kreises oder der kreisfreien Stadt."),
    ("", "jobcenter"): Column("Jobcenter (Kreisschlüssel)", "Das Jobcenter, bezeichnet durch den Kreisschlüssel seines Kreises."),
    ("", "jobcenter_name"): Column("Jobcenter", "Name des Jobcenters (nach seinem Kreis)."),
    ("", "year"): Column("Jahr", "Das Berichtsjahr J."),
    ("", "month"): Column("Monat", "Der Berichtsmonat (JJJJ-MM); Stichtag ist sein letzter Tag."),
    ("", "is_provisional"): _PROVISIONAL,
    ("", "missing_reason"): Column("fehlt, weil", "Warum ein Wert fehlt („x“): er fehlt, er ist nicht 0."),
    ("", "note"): Column("Hinweis", "Bei Summenzeilen: welche Spalten nur einen Teil der Zeilen enthalten, weil "
                                    "die übrigen keinen Wert haben (Summe unvollständig), und bei Jobcentern, wie "
                                    "viele der Region in der Summe sind, solange nicht alle Daten liefern."),
    ("", "suppressed"): Column("gesperrt", "Nur Parquet: die Spalten dieser Zeile, die wegen Geheimhaltung "
                                           "gesperrt sind (ihre Werte sind leer)."),
    **{
        (kpi, "kreisschluessel"): Column("Kreisschlüssel", "Kreis, in dem die Werkstatt ihren Sitz hat.")
        for kpi in ("k01", "k02", "k03", "k04")
    },
    # K01 BiAp-Quote
    ("k01", "numerator"): Column("BiAp (Personen)", "Personen auf einem betriebsintegrierten Arbeitsplatz "
                                                    "(BiAp oder BIG) am 31.12.J, die im Arbeitsbereich sind."),
    ("k01", "denominator"): Column("Beschäftigte AB", "Personen im Arbeitsbereich (AB) am 31.12.J."),
    ("k01", "value"): Column("BiAp-Quote (%)", f"BiAp (Personen) ÷ Beschäftigte AB × 100. {_RATE}"),
    ("k01", "rank"): Column("Rang", "Rang im Landschaftsverband nach der ungerundeten Quote (1 = höchste; "
                                    "gleiche Quoten teilen einen Rang: 1, 2, 2, 4), unter den veröffentlichten "
                                    "Quoten: eine gesperrte („*“) erhält keinen Rang und zählt nicht mit."),
    ("k01", "value_prev_year"): Column("BiAp-Quote Vorjahr (%)", "Die BiAp-Quote der Werkstatt (einer Summenzeile: "
                                                                 "der Summe) im Jahr J-1; fehlt sie, sagt „fehlt, "
                                                                 "weil“ nach „Vorjahr:“, warum."),
    ("k01", "rank_prev_year"): Column("Rang Vorjahr", "Ihr Rang im Jahr J-1, unter den veröffentlichten "
                                                      "Quoten des Vorjahres; „*“, wo die Quote des Vorjahres "
                                                      "gesperrt war (der Rang verriete sie)."),
    # K02 Übergangsquote, K03 Übergänge je 1.000
    ("k02", "numerator"): Column("Übergänge", "Übergänge auf den allgemeinen Arbeitsmarkt mit Datum im Jahr J."),
    ("k02", "denominator"): Column("Beschäftigte AB Vorjahr", "Personen im Arbeitsbereich am 31.12.(J-1)."),
    ("k02", "value"): Column("Übergangsquote (%)", f"Übergänge ÷ Beschäftigte AB Vorjahr × 100. {_RATE}"),
    ("k03", "value"): Column("Übergänge je 1.000", "Übergänge je 1.000 Beschäftigte im Arbeitsbereich am "
                                                   "31.12.(J-1): die ungerundete Übergangsquote × 10, auf 2 "
                                                   "Nachkommastellen gerundet (kein Prozentwert)."),
    ("k02", "note"): Column("Hinweis", "Wenn Übergangsmeldungen der Werkstatt für Monate des Jahres überfällig "
                                       "sind: welche. Übergänge, die nur diese Meldungen enthielten, fehlen; die "
                                       "Übergänge können höher sein. Bei der Summenzeile: in wie vielen Zeilen "
                                       "darüber das gilt."),
    # K04 Rückkehrquote
    ("k04", "numerator"): Column("Rückkehrer", "Übergänge im Jahr J, nach denen die Person binnen 365 Tagen "
                                               "in die Werkstatt zurückkehrte."),
    ("k04", "denominator"): Column("Übergänge", "Übergänge mit Datum im Jahr J."),
    ("k04", "value"): Column("Rückkehrquote (%)", f"Rückkehrer ÷ Übergänge × 100. {_RATE} Vorläufig, bis "
                                                  "der Dezember des Folgejahres geliefert ist."),
    ("k04", "note"): Column("Hinweis", "Wenn Übergangsmeldungen der Werkstatt für Monate des Jahres überfällig "
                                       "sind: welche. Übergänge (und Rückkehrer), die nur diese Meldungen "
                                       "enthielten, fehlen. Bei der Summenzeile: in wie vielen Zeilen darüber "
                                       "das gilt."),
    # K05 Budget für Arbeit
    ("k05", "kreisschluessel"): Column("Kreisschlüssel", "Kreis der Werkstatt, aus der die Person kam "
                                                         "(leer, wenn keine bekannt ist)."),
    ("k05", "kreis_name"): Column("Kreis", "Name dieses Kreises („unbekannt“, wenn keine Werkstatt bekannt ist)."),
    ("k05", "active_cases"): Column("laufende Fälle 31.12.", "Fälle des Budgets für Arbeit, die am 31.12.J "
                                                             "liefen (nicht abgelehnt, Beginn bis dahin, "
                                                             "Ende leer oder später)."),
    ("k05", "new_cases"): Column("neue Fälle", "Fälle mit Beginn im Jahr J."),
    ("k05", "mean_monthly_subsidy_eur"): Column("mittlerer Lohnkostenzuschuss (EUR/Monat)",
                                                "Mittlerer monatlicher Lohnkostenzuschuss der laufenden Fälle "
                                                "(gesperrt bei weniger als 3 Fällen)."),
    # K06 Zielgruppenbestand
    ("k06", "sb"): Column("schwerbehindert (SB)", "Kundinnen und Kunden mit GdB ab 50 am Stichtag."),
    ("k06", "gl"): Column("gleichgestellt (GL)", "Kundinnen und Kunden mit GdB 30 bis 40 und Gleichstellung."),
    ("k06", "rehabilitanden"): Column("Rehabilitanden", "Rehabilitandinnen und Rehabilitanden am Stichtag."),
    ("k06", "any_target"): Column("Zielgruppe insgesamt (Personen)", "Verschiedene Personen in mindestens "
                                                                     "einer der drei Gruppen."),
    # K07 Integrationsquote SB/GL
    ("k07", "numerator"): Column("Integrationsmonate SB/GL", "Personenmonate: für jeden der zwölf Monate bis "
                                                             "zum Berichtsmonat die Personen, die in dem Monat "
                                                             "SB oder GL waren und eine Arbeit aufnahmen, "
                                                             "zusammengezählt (eine Person höchstens einmal "
                                                             "je Monat)."),
    ("k07", "denominator"): Column("SB/GL im Mittel", "Mittlerer Bestand an SB und GL der Monate t-12 bis "
                                                      "t-1 (ein Mittelwert, daher mit Nachkommastellen)."),
    ("k07", "value"): Column("Integrationsquote SB/GL (%)", f"Integrationsmonate ÷ SB/GL im Mittel × 100. "
                                                            f"{_RATE} Braucht die Kundendaten von 13 Monaten (die zwölf "
                                                            f"davor und den Berichtsmonat) und die Integrationsdateien "
                                                            f"des Berichtsmonats und der elf davor."),
    # K08 Werkakademie-Integrationsquote
    ("k08", "numerator"): Column("integriert binnen 183 Tagen", "Eintritte in die Werkakademie im Jahr J "
                                                                "mit einer Integration binnen 183 Tagen."),
    ("k08", "denominator"): Column("Eintritte Werkakademie", "Personen, die im Jahr J in die Werkakademie "
                                                             "eintraten (jede Person einmal, mit ihrem ersten "
                                                             "Eintritt im Jahr J)."),
    ("k08", "value"): Column("Werkakademie-Integrationsquote (%)", _RATE),
    # K09 Übernahmequote Praktikum
    ("k09", "numerator"): Column("übernommen", "Praktika (MAG) mit Ende im Jahr J, nach denen binnen 92 "
                                               "Tagen eine Integration beim selben Arbeitgeber folgte."),
    ("k09", "denominator"): Column("beendete Praktika", "Praktika (MAG) mit Ende im Jahr J."),
    ("k09", "value"): Column("Übernahmequote Praktikum (%)", _RATE),
    # K10 Übergang, dann arbeitslos
    ("k10", "landschaftsverband"): Column("Landschaftsverband", "LWL oder LVR (der verlassenen Werkstatt); "
                                                               "NRW bei der Summe."),
    ("k10", "numerator"): Column("danach arbeitslos", "Übergänge im Jahr J, deren Person binnen 365 Tagen "
                                                      "in einem Monat arbeitslos beim Jobcenter gemeldet war."),
    ("k10", "denominator"): Column("Übergänge", "Übergänge mit Datum im Jahr J."),
    ("k10", "value"): Column("Übergang, dann arbeitslos (%)", _RATE),
    ("k10", "note"): Column("Hinweis", "Wenn Datensätze einer Person mit Übergang noch auf die Prüfung ihrer "
                                       "Verknüpfung mit Kundinnen und Kunden eines Jobcenters warten, oder wenn "
                                       "Werkstätten in Kreisen liegen, deren Jobcenter keine Daten liefert: "
                                       "„danach arbeitslos“ kann höher sein. Auch überfällige Übergangsmeldungen "
                                       "und Kundendateien der Jobcenter aus den 365 Tagen nach den Übergängen. "
                                       "Bei der Summenzeile: in wie vielen Zeilen darüber das gilt."),
    # K11 Vom Jobcenter in die Werkstatt
    ("k11", "entrants"): Column("Eintritte Werkstatt (Personen)", "Personen, die im Jahr J in eine Werkstatt "
                                                                  "des Kreises eintraten."),
    ("k11", "from_jobcenter"): Column("davon vom Jobcenter", "Davon Personen, die in den 24 Monaten vor dem "
                                                             "Eintritt Kunden eines Jobcenters waren."),
    ("k11", "note"): Column("Hinweis", "Bei einem Kreis, dessen Jobcenter keine Daten liefert: „davon vom "
                                       "Jobcenter“ zählt nur Kundinnen und Kunden der Jobcenter, die liefern, und ist "
                                       "damit eine Untergrenze. Ebenso, wenn Datensätze eingetretener Personen noch "
                                       "auf die Prüfung ihrer Verknüpfung mit Kundinnen und Kunden eines Jobcenters "
                                       "warten: „davon vom Jobcenter“ kann höher sein. Bei Summenzeilen: in wie vielen "
                                       "Zeilen darüber ein Hinweis steht, und welche Spalten nur einen Teil der Zeilen "
                                       "darüber enthalten (Summe unvollständig)."),
    # K12 Abgleich Leistungsdokumentation
    ("k12", "measure"): Column("Merkmal", "Beschäftigte AB 31.12., BiAp 31.12., Übergänge, davon Budget für Arbeit."),
    ("k12", "reported"): Column("laut Leistungsdokumentation", "Die Zahl, die der Landschaftsverband meldet."),
    ("k12", "computed"): Column("aus Personendaten", "Die Zahl, berechnet aus den Personenmeldungen der Werkstatt."),
    ("k12", "difference"): Column("Differenz", "aus Personendaten minus laut Leistungsdokumentation."),
    ("k12", "status"): Column("Abgleich", "„stimmt“ (gleich), „weicht ab“ (Differenz zu klären) oder "
                                          "„fehlt“ (eine Seite fehlt)."),
    ("k12", "note"): Column("Hinweis", "Bei Übergängen: wenn Übergangsmeldungen der Werkstatt für Monate des "
                                       "Jahres überfällig sind, welche. Übergänge, die nur diese Meldungen "
                                       "enthielten, fehlen in der Zahl aus Personendaten; eine Differenz kann "
                                       "daher rühren."),
    # K13 Arbeitgeber-Engagement
    ("k13", "employers"): Column("Arbeitgeber", "Verschiedene Arbeitgeber mit einem BiAp-, BIG- oder "
                                                "Praktikumsplatz, einem Übergang, einem Budget für Arbeit oder "
                                                "einer SB/GL-Integration im Kreis."),
    ("k13", "numerator"): Column("davon öffentliche Verwaltung", "Davon Arbeitgeber der öffentlichen "
                                                                 "Verwaltung (WZ 84)."),
    ("k13", "denominator"): Column("Arbeitgeber (Nenner)", "Wie „Arbeitgeber“: der Nenner des Anteils."),
    ("k13", "value"): Column("Anteil öffentliche Verwaltung (%)", _RATE),
    ("k13", "note"): Column("Hinweis", "Wenn Meldungen des Jahres überfällig sind, die Arbeitgeber bringen "
                                       "(Außenarbeitsplätze und Übergänge der Werkstätten des Kreises, "
                                       "Integrationen seines Jobcenters, Budget für Arbeit des "
                                       "Landschaftsverbands): welche. Die Zahl der Arbeitgeber ist dann eine "
                                       "Untergrenze."),
    # K14 Regionalübersicht NRW inklusiv
    ("k14", "ab_persons"): Column("Beschäftigte AB (Wohnort)", "Personen im Arbeitsbereich am 31.12.J mit "
                                                               "Wohnort im Kreis."),
    ("k14", "biap_persons"): Column("BiAp (Personen, Wohnort)", "Davon auf einem BiAp- oder BIG-Platz."),
    ("k14", "transitions"): Column("Übergänge", "Übergänge im Jahr J aus den Werkstätten mit Sitz im Kreis."),
    ("k14", "budget_fuer_arbeit_active"): Column("Budget für Arbeit laufend 31.12.",
                                                 "Laufende Fälle am 31.12.J aus den Werkstätten des Kreises (K05; "
                                                 "Fälle ohne bekannten Kreis, in K05 „unbekannt“, fehlen "
                                                 "hier, daher kann die Summe kleiner sein)."),
    ("k14", "sb_gl_customers_december"): Column("SB/GL-Kunden Dezember", "SB- und GL-Kunden des Jobcenters "
                                                                         "des Kreises im Dezember (K06)."),
    ("k14", "sb_gl_integration_months"): Column("SB/GL-Integrationsmonate", "Integrationsmonate von SB und "
                                                                            "GL im Jahr J; fehlt, solange eine "
                                                                            "Integrationsdatei des Jahres "
                                                                            "überfällig ist."),
    ("k14", "note"): Column("Hinweis", "Wenn Datensätze von Beschäftigten noch auf die Prüfung ihrer Verknüpfung "
                                       "mit Beschäftigten anderer Werkstätten warten (sind es dieselben Personen, "
                                       "zählen sie einmal): „Beschäftigte AB“ und „BiAp“ können niedriger sein. Bei "
                                       "Summenzeilen: in wie vielen Zeilen darüber das gilt, und welche Spalten nur "
                                       "einen Teil der Zeilen darüber enthalten (Summe unvollständig)."),
    ("k14", "k07_december"): Column("Integrationsquote SB/GL Dezember (%)", "Die Integrationsquote SB/GL (K07) "
                                                                            "für den Dezember des Jahres: die "
                                                                            "Integrationsmonate des Jahres ÷ der "
                                                                            "mittlere SB/GL-Bestand der zwölf "
                                                                            "Monate davor (Dezember des Vorjahres bis "
                                                                            "November), "
                                                                            "nicht die Kunden im Dezember (Zähler "
                                                                            "und Nenner weist K07 aus, die "
                                                                            "Kennzahl der Jobcenter). In den "
                                                                            "Summenzeilen nicht gebildet: „x“."),
}  # fmt: skip
# K03 is K02 per 1,000 instead of per 100: the same numerator and denominator.
COLUMNS |= {("k03", name): COLUMNS[("k02", name)] for name in ("numerator", "denominator", "note")}

# What each KPI measures, in plain German (spec/kpis.md): the report's introduction to its section
# and the first line of its sheet in the Erläuterungen.
DEFINITIONS = {
    "k01": "Anteil der Beschäftigten im Arbeitsbereich einer Werkstatt, die am 31.12. auf einem "
           "betriebsintegrierten Arbeitsplatz arbeiten (BiAp, auch als Gruppe; ein Praktikum zählt nicht): "
           "Personen auf BiAp ÷ Personen im Arbeitsbereich × 100. Der Rang vergleicht die Werkstätten eines "
           "Landschaftsverbands (1 = höchste Quote, gleiche Quoten teilen sich einen Rang); daneben Quote und "
           "Rang des Vorjahres.",
    "k02": "Übergänge aus der Werkstatt auf den allgemeinen Arbeitsmarkt im Jahr (jede Art, auch Budget für "
           "Arbeit) ÷ Beschäftigte im Arbeitsbereich am 31.12. des Vorjahres × 100.",
    "k03": "Wie die Übergangsquote, aber je 1.000 Beschäftigte: Übergänge im Jahr ÷ Beschäftigte im "
           "Arbeitsbereich am 31.12. des Vorjahres × 1.000.",
    "k04": "Anteil der Übergänge des Jahres, nach denen die Person binnen 365 Tagen in die Werkstatt "
           "zurückkehrte: Übergänge mit Rückkehr ÷ Übergänge × 100. Vorläufig, bis der Dezember des "
           "Folgejahres geliefert ist.",
    "k05": "Budgets für Arbeit nach dem Kreis der Werkstatt, aus der die Person kam („unbekannt“, wenn aus "
           "keiner): am 31.12. laufende Fälle (nicht abgelehnt, begonnen, nicht beendet), im Jahr begonnene "
           "Fälle und der mittlere monatliche Lohnkostenzuschuss der laufenden Fälle.",
    "k06": "Kundinnen und Kunden des Jobcenters am Monatsende: schwerbehindert (SB, GdB ab 50), "
           "gleichgestellt (GL, GdB 30 oder 40 mit Gleichstellung), Rehabilitanden, und die Personen, die zu "
           "mindestens einer dieser Gruppen gehören.",
    "k07": "Integrationsmonate schwerbehinderter und gleichgestellter Kundinnen und Kunden in den zwölf "
           "Monaten bis zum Berichtsmonat ÷ ihr mittlerer Bestand in den zwölf Monaten davor × 100. Eine "
           "Person zählt höchstens einmal je Monat (wie § 48a SGB II). Braucht die Kundendaten von 13 Monaten.",
    "k08": "Personen, die im Jahr in die Werkakademie eintraten und binnen 183 Tagen danach eine Arbeit "
           "aufnahmen (Integration) ÷ Eintritte in die Werkakademie im Jahr × 100. Vorläufig, bis die 183 "
           "Tage vergangen sind.",
    "k09": "Praktika bei einem Arbeitgeber (MAG), die im Jahr endeten und binnen 92 Tagen in eine Arbeit "
           "beim selben Arbeitgeber mündeten ÷ im Jahr beendete Praktika × 100.",
    "k10": "Übergänge aus der Werkstatt im Jahr, deren Person binnen 365 Tagen danach beim Jobcenter "
           "arbeitslos gemeldet war ÷ Übergänge im Jahr × 100, je Landschaftsverband. Dafür werden Personen "
           "über Werkstatt und Jobcenter hinweg erkannt (pseudonymisiert). Vorläufig, bis die 365 Tage "
           "vergangen sind.",
    "k11": "Eintritte in die Werkstätten des Kreises im Jahr, und wie viele dieser Personen in den 24 Monaten "
           "vor dem Eintritt Kundin oder Kunde eines Jobcenters waren. Vorläufig, wo die Daten des "
           "Jobcenters nicht so weit zurückreichen.",
    "k12": "Je Werkstatt die Zahlen der Leistungsdokumentation des Landschaftsverbands (Beschäftigte im "
           "Arbeitsbereich und auf BiAp am 31.12., Übergänge, davon Budget für Arbeit) neben denselben "
           "Zahlen aus den Personenmeldungen der Werkstatt: die Differenz und ob sie „stimmt“, „weicht ab“ "
           "oder eine Seite „fehlt“.",
    "k13": "Verschiedene Arbeitgeber im Kreis, die mit einer Werkstatt oder dem Jobcenter zusammenarbeiten "
           "(ein BiAp-, Gruppen- oder Praktikumsplatz, ein Übergang, ein Budget für Arbeit, die Arbeit einer "
           "SB/GL-Person), und der Anteil der öffentlichen Verwaltung (WZ 84) unter ihnen. Derselbe "
           "Arbeitgeber wird am vereinheitlichten Namen erkannt.",
    "k14": "Die wichtigsten Zahlen je Kreis: Beschäftigte im Arbeitsbereich und auf BiAp am 31.12. nach "
           "Wohnort, Übergänge im Jahr, am 31.12. laufende Budgets für Arbeit nach dem Kreis der Werkstatt, aus "
           "der die Person kam (ohne Fälle, deren Kreis unbekannt ist), schwerbehinderte und gleichgestellte "
           "Kundinnen und Kunden (SB/GL) der Jobcenter im Dezember, ihre Integrationsmonate im Jahr und ihre "
           "Integrationsquote im Dezember.",
}  # fmt: skip
ROUNDING = "Quoten auf 2 Nachkommastellen kaufmännisch gerundet."
RANKING = "Der Rang folgt der ungerundeten Quote, unter den veröffentlichten Quoten."

# Sheet names (at most 31 characters, Excel's limit) and titles per KPI.
SHEET_NAMES = {
    "k01": "K01 BiAp-Quote",
    "k02": "K02 Übergangsquote",
    "k03": "K03 Übergänge je 1.000",
    "k04": "K04 Rückkehrquote",
    "k05": "K05 Budget für Arbeit",
    "k06": "K06 Zielgruppenbestand",
    "k07": "K07 Integrationsquote SB-GL",
    "k08": "K08 Werkakademie",
    "k09": "K09 Übernahme Praktikum",
    "k10": "K10 Übergang, dann arbeitslos",
    "k11": "K11 Jobcenter in Werkstatt",
    "k12": "K12 Abgleich LD",
    "k13": "K13 Arbeitgeber",
    "k14": "K14 Regionalübersicht",
}

VALUES = {
    "level": {
        "werkstatt": "Werkstatt",
        "kreis": "Kreis",
        "jobcenter": "Jobcenter",
        "landschaftsverband": "Landschaftsverband insgesamt",
        "nrw": "NRW insgesamt",
        "vergleichsgruppe": "Vergleichsgruppe insgesamt",
    },
    "measure": {
        "ab": "Beschäftigte AB 31.12.",
        "biap": "BiAp 31.12.",
        "transitions": "Übergänge",
        "bfa": "davon Budget für Arbeit",
    },
    "status": {"ok": "stimmt", "abweichung": "weicht ab", "fehlt": "fehlt"},
}

_FILES_OF = {  # a monthly part: one file of it, several
    "aussenarbeitsplaetze": ("die Meldung der Außenarbeitsplätze", "die Meldungen der Außenarbeitsplätze"),
    "uebergaenge": ("die Übergangsmeldung", "die Übergangsmeldungen"),
    "integrationen": ("die Integrationsdatei", "die Integrationsdateien"),
}


def _overdue_employers(match: re.Match) -> str:
    """K13's note on an overdue monthly file of a Kreis' workshop or Jobcenter."""
    part, sender, periods = match.groups()
    months = periods.split(", ")
    one, several = _FILES_OF[part]
    if len(months) == 1:
        year, month = months[0].split("-")
        return f"{one} von {sender} für {month}/{year} ist überfällig: Arbeitgeber daraus können fehlen"
    return f"{several} von {sender} für {periods} sind überfällig: Arbeitgeber daraus können fehlen"


# Why a value is missing, in German: (pattern of the warehouse's reason, German: a replacement with
# \1 ... its groups, or a function of the match).
_REASONS = (
    (r"no personen snapshot for December (\d{4})", r"keine Personenmeldung für Dezember \1"),
    (r"no personen snapshot for December (\d{4}): the personen file of ([\w-]+) for (\d{4})-(\d{2}) is overdue "
     r"since (\d{4})-(\d{2})-(\d{2})",
     r"keine Personenmeldung für Dezember \1: die Personenmeldung von \2 für \4/\3 ist seit dem \7.\6.\5 überfällig"),
    (r"no aussenarbeitsplaetze file for December (\d{4})",
     r"keine Meldung der Außenarbeitsplätze für Dezember \1 (fehlt oder abgelehnt)"),
    (r"no aussenarbeitsplaetze file for December (\d{4}): the aussenarbeitsplaetze file of ([\w-]+) for "
     r"(\d{4})-(\d{2}) is overdue since (\d{4})-(\d{2})-(\d{2})",
     r"keine Meldung der Außenarbeitsplätze für Dezember \1: die Meldung von \2 für \4/\3 ist seit dem "
     r"\7.\6.\5 überfällig"),
    (r"no aussenarbeitsplaetze file of December (\d{4}) from ([\w, -]+), whose persons live here too",
     r"keine Meldung der Außenarbeitsplätze für Dezember \1 von \2, deren Beschäftigte auch hier wohnen"),
    (r"no persons in AB on 31\.12\.(\d{4})", r"am 31.12.\1 niemand im Arbeitsbereich"),
    (r"no persons in AB on 31\.12\. of the previous year", "am 31.12. des Vorjahres niemand im Arbeitsbereich"),
    (r"recognised only on (\d{4})-(\d{2})-(\d{2}): no December before",
     r"erst seit dem \3.\2.\1 anerkannt: kein Dezember davor"),
    (r"no transitions in the year", "keine Übergänge im Jahr"),
    (r"no rate: its denominator is 0", "kein Wert: der Nenner ist 0"),
    (r"no uebergaenge file for (\d{4})", r"keine Übergangsmeldung für \1"),
    (r"no uebergaenge file for (\d{4}): the uebergaenge file of ([\w-]+) for (\d{4})-(\d{2}) is overdue",
     r"keine Übergangsmeldung für \1: die Übergangsmeldung von \2 für \4/\3 ist überfällig"),
    (r"no uebergaenge file for (\d{4}): the uebergaenge files of ([\w-]+) for ([\d, -]+) are overdue",
     r"keine Übergangsmeldung für \1: die Übergangsmeldungen von \2 für \3 sind überfällig"),
    (r"no active cases on 31\.12\.", "am 31.12. kein laufender Fall"),
    (r"the personen file of ([\w-]+) for (\d{4})-(\d{2}) is overdue: its entrants are missing",
     r"die Personenmeldung von \1 für \3/\2 ist überfällig: ihre Eintritte fehlen"),
    (r"the personen files of ([\w-]+) for ([\d, -]+) are overdue: its entrants are missing",
     r"die Personenmeldungen von \1 für \2 sind überfällig: ihre Eintritte fehlen"),
    (r"the uebergaenge file of ([\w-]+) for (\d{4})-(\d{2}) is overdue: its transitions are missing",
     r"die Übergangsmeldung von \1 für \3/\2 ist überfällig: ihre Übergänge fehlen"),
    (r"the uebergaenge files of ([\w-]+) for ([\d, -]+) are overdue: its transitions are missing",
     r"die Übergangsmeldungen von \1 für \2 sind überfällig: ihre Übergänge fehlen"),
    (r"needs 13 loaded months \(t-12 \.\.\. t\)", "braucht die Kundendaten von 13 Monaten (die zwölf davor und den Berichtsmonat)"),
    (r"needs 13 loaded months \(t-12 \.\.\. t\): kunden data of (\d{5}) only from (\d{4})-(\d{2})",
     r"braucht die Kundendaten von 13 Monaten (die zwölf davor und den Berichtsmonat): Kundendaten von \1 erst "
     r"ab \3/\2"),
    (r"needs 13 loaded months \(t-12 \.\.\. t\): the kunden file of (\d{5}) for (\d{4})-(\d{2}) is overdue",
     r"braucht die Kundendaten von 13 Monaten: die Kundendatei von \1 für \3/\2 ist überfällig"),
    (r"needs 13 loaded months \(t-12 \.\.\. t\): the kunden files of (\d{5}) for ([\d, -]+) are overdue",
     r"braucht die Kundendaten von 13 Monaten: die Kundendateien von \1 für \2 sind überfällig"),
    (r"no kunden file for (\d{4})-(\d{2}): overdue since (\d{4})-(\d{2})-(\d{2})",
     r"keine Kundendatei für \2/\1: seit dem \5.\4.\3 überfällig"),
    (r"needs the integrationen files of t-11 \.\.\. t",
     "braucht die Integrationsdateien von 12 Monaten (den Berichtsmonat und die elf davor)"),
    (r"needs the integrationen files of t-11 \.\.\. t: the integrationen file of (\d{5}) for (\d{4})-(\d{2}) is "
     r"overdue",
     r"braucht die Integrationsdateien von 12 Monaten: die Integrationsdatei von \1 für \3/\2 ist überfällig"),
    (r"needs the integrationen files of t-11 \.\.\. t: the integrationen files of (\d{5}) for ([\d, -]+) are overdue",
     r"braucht die Integrationsdateien von 12 Monaten: die Integrationsdateien von \1 für \2 sind überfällig"),
    (r"the integrationen file of (\d{5}) for (\d{4})-(\d{2}) is overdue: its integrations are missing",
     r"die Integrationsdatei von \1 für \3/\2 ist überfällig: ihre Integrationen fehlen"),
    (r"the integrationen files of (\d{5}) for ([\d, -]+) are overdue: its integrations are missing",
     r"die Integrationsdateien von \1 für \2 sind überfällig: ihre Integrationen fehlen"),
    (r"the (aussenarbeitsplaetze|uebergaenge|integrationen) files? of ([\w-]+) for ([\d, -]+) (?:is|are) overdue: "
     r"its employers may be missing",
     _overdue_employers),
    (r"the kunden file of (\d{5}) for (\d{4})-(\d{2}) is overdue: its unemployed customers may be missing",
     r"die Kundendatei von \1 für \3/\2 ist überfällig: arbeitslose Kundinnen und Kunden daraus können fehlen"),
    (r"the kunden files of (\d{5}) for ([\d, -]+) are overdue: its unemployed customers may be missing",
     r"die Kundendateien von \1 für \2 sind überfällig: arbeitslose Kundinnen und Kunden daraus können fehlen"),
    (r"the massnahmen file of (\d{5}) for (\d{4})-(\d{2}) is overdue: its measures are missing",
     r"die Maßnahmendatei von \1 für \3/\2 ist überfällig: ihre Maßnahmen fehlen"),
    (r"the massnahmen files of (\d{5}) for ([\d, -]+) are overdue: its measures are missing",
     r"die Maßnahmendateien von \1 für \2 sind überfällig: ihre Maßnahmen fehlen"),
    (r"the budget_fuer_arbeit file of (\w+) for (\d{4}) is overdue: its employers may be missing",
     r"die Datei zum Budget für Arbeit des \1 für \2 ist überfällig: Arbeitgeber daraus können fehlen"),
    (r"no Werkakademie entries in the year", "keine Eintritte in die Werkakademie im Jahr"),
    (r"no MAG spells ending in the year", "kein Praktikum (MAG) im Jahr beendet"),
    (r"no workshop has delivered December yet", "noch keine Werkstatt hat den Dezember geliefert"),
    (r"no December personen snapshot of ([\w, -]+), whose persons live here too",
     r"keine Personenmeldung für Dezember von \1, deren Beschäftigte auch hier wohnen"),
    (r"no Budget für Arbeit file for the year yet", "noch keine Datei zum Budget für Arbeit für das Jahr"),
    (r"no Jobcenter data for the Kreis", "keine Daten des Jobcenters für den Kreis"),
    (r"no data from the Kreis's own Jobcenter: only customers of delivering Jobcenters count",
     "keine Daten vom Jobcenter des Kreises: gezählt sind nur Kundinnen und Kunden der Jobcenter, die liefern"),
    (r"the Jobcenter has not delivered December yet", "das Jobcenter hat den Dezember noch nicht geliefert"),
    (r"the Budget für Arbeit file of (\w+) for (\d{4}) has not been delivered",
     r"die Datei zum Budget für Arbeit des \1 für \2 ist nicht geliefert"),
    (r"no Leistungsdokumentation of (\w+) for (\d{4}) yet", r"noch keine Leistungsdokumentation des \1 für \2"),
    (r"no Leistungsdokumentation of (\w+) for (\d{4}) yet: the leistungsdokumentation file of \w+ for \d{4} is "
     r"overdue since (\d{4})-(\d{2})-(\d{2})",
     r"noch keine Leistungsdokumentation des \1 für \2: sie ist seit dem \5.\4.\3 überfällig"),
    (r"the Leistungsdokumentation of (\w+) for (\d{4}) has no row for the workshop",
     r"die Leistungsdokumentation des \1 für \2 hat keine Zeile für die Werkstatt"),
    (r"no data of the workshop for the year", "keine Daten der Werkstatt für das Jahr"),
    (r"no workshop figures for (\d{4})", r"keine Werkstattzahlen für \1"),
    (r"no workshop deliveries for (\d{4})", r"für \1 liegen keine Werkstattlieferungen vor"),
    (r"recognised as a workshop only in (\d{4})", r"erst \1 als Werkstatt anerkannt"),
    (r"(\d+) of (\d+) Jobcenters in the sum: the others have no figures for the period \(no data sent, or "
     r"a figure missing\)",
     r"Summe aus \1 von \2 Jobcentern: die übrigen haben für den Zeitraum keine Werte (keine Daten geliefert "
     r"oder Wert fehlt)"),
    (r"(\d+) of (\d+) workshops sent no uebergaenge file for (\d{4})",
     r"\1 von \2 Werkstätten haben für \3 keine Übergangsmeldung geschickt: ihre Übergänge sind unbekannt"),
    (r"(\d+) of (\d+) workshops lie in a Kreis whose Jobcenter sent no data: only customers of delivering "
     r"Jobcenters count",
     r"\1 von \2 Werkstätten liegen in Kreisen, deren Jobcenter keine Daten geliefert hat: gezählt sind nur "
     r"Kundinnen und Kunden der Jobcenter, die liefern"),
    (r"(\d+) of (\d+) parts without a value", r"\1 von \2 Zeilen ohne Wert"),
    (r"no value", "kein Wert"),
)  # fmt: skip


def described(kpi: str, name: str) -> Column | None:
    """A KPI's column as the partners' Erläuterungen describe it; None for a column nobody
    described (an internal or hidden one: Great Expectations blocks it, publish/validation.py)."""
    return COLUMNS.get((kpi, name)) or COLUMNS.get(("", name))


def column(kpi: str, name: str) -> Column:
    """The German header and explanation of a KPI's column; a column nobody described yet keeps its
    name (the tests find it before a partner does)."""
    return described(kpi, name) or Column(name, "")


def header(kpi: str, name: str) -> str:
    return column(kpi, name).header


def reason(kpi: str, text: str) -> str:
    """A missing reason in German; several are joined by "; ". A reason without a German form
    stays as it is (never lost; the tests list every reason the warehouse writes)."""
    return "; ".join(_one_reason(kpi, part) for part in text.split("; "))


def _one_reason(kpi: str, text: str) -> str:
    if match := re.fullmatch(r"(.+) \(a file of (\d{4})-(\d{2})-(\d{2}) was rejected\)", text):
        said, year, month, day = match.groups()  # an overdue file that came and was rejected
        return f"{_one_reason(kpi, said)} (eine Datei vom {day}.{month}.{year} wurde abgelehnt: siehe Rückmeldung)"
    if text.startswith("previous year: "):  # K01's value of the year before
        return "Vorjahr: " + _one_reason(kpi, text.removeprefix("previous year: "))
    if text.startswith("K07 for December: "):
        return "K07 für Dezember: " + _one_reason("k07", text.removeprefix("K07 for December: "))
    if match := re.fullmatch(r"(\w+|every count): (\d+) of (\d+) parts without a value", text):
        name, missing, parts = match.groups()
        whose = "jede Zahl" if name == "every count" else header(kpi, name)
        return f"{whose}: Summe unvollständig ({missing} von {parts} Zeilen ohne Wert)"
    if match := re.fullmatch(
        r"record pairs with (Jobcenter customers|workshop persons) await review: (\w+(?: and \w+)*) may be (higher|lower)",
        text,
    ):
        whom, names, direction = match.groups()
        names = " und ".join(f"„{header(kpi, name)}“" for name in names.split(" and "))
        whom = (
            "Kundinnen und Kunden eines Jobcenters"
            if whom.startswith("Jobcenter")
            else "Beschäftigten anderer Werkstätten"
        )
        can = "können" if " und " in names else "kann"
        return (
            f"Datensätze warten auf die Prüfung ihrer Verknüpfung mit {whom}: {names} {can} "
            f"{'höher' if direction == 'higher' else 'niedriger'} sein"
        )
    if match := re.fullmatch(r"(\d+) of (\d+) parts: (.+)", text):
        noted, parts, note = match.groups()
        return f"in {noted} von {parts} Zeilen: {_one_reason(kpi, note)}"
    if text.startswith("no part has a value for "):
        names = text.removeprefix("no part has a value for ").split(", ")
        return "kein Teil hat einen Wert für " + ", ".join(header(kpi, name) for name in names)
    for pattern, german in _REASONS:
        if re.fullmatch(pattern, text):
            return re.sub(pattern, german, text)
    return text


def translated(kpi: str, name: str, value: str) -> str:
    """A code value or missing reason as a partner reads it."""
    if name in ("missing_reason", "note"):
        return reason(kpi, value)
    return VALUES.get(name, {}).get(value, value)
