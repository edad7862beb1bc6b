"""A report per partner and period that a person reads (issue 16): in German, as PDF and as
accessible HTML, in every delivery, built from the same suppressed sheets as the extract files.
Every figure in it is the text the CSV holds for that cell (``files.texts``), so a suppressed cell
is "*" here too, and a chart draws no bar for it (not even one of length 0).

Rendered offline: charts by altair and vl-convert (SVG, German number format), the PDF by typst
(tagged, PDF/UA-1; its data passed as JSON and set as text, never as markup), the HTML by a Jinja2
template with escaping (lang="de", headings, table headers with scope, every chart with a text
alternative that carries its figures, no external URL).
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import altair as alt
import jinja2
import polars as pl
import typst
import vl_convert

from publish.files import Sheet, texts
from publish.labels import PROVISIONAL, SHEET_NAMES, SYMBOLS, column, translated

LOG = logging.getLogger(__name__)
TEMPLATES = Path(__file__).with_name("templates")
REPORT_STEM = "bericht"
# typst's wheel brings no sans-serif font; DejaVu (Debian's fonts-dejavu-core) is taken from here,
# and no other system font, so the PDF is the same on every machine.
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)
FONT = "DejaVu Sans"
COLOURS = {"text": "#1a1a1a", "background": "#ffffff", "head": "#e8eef5", "bar": "#1f5a96"}  # WCAG AA
NAMES = ("werkstatt_name", "kreis_name", "jobcenter_name")  # a row's name, first found
KEYS = ("werkstatt_nr", "kreisschluessel", "jobcenter", "landschaftsverband")  # the name's fallback
# Shown once above the table (the period, the partner's scope) or as notes below it, not per row.
NOT_IN_TABLE = {"level", "landschaftsverband", "werkstatt_nr", "kreisschluessel", "jobcenter", "year",
                "month", "note", *NAMES}  # fmt: skip
TOTAL_LEVELS = ("landschaftsverband", "nrw")


@dataclass(frozen=True)
class Report:
    html: bytes
    pdf: bytes


def _row_names(sheet: Sheet) -> list[str]:
    frame = sheet.frame
    candidates = [c for c in (*NAMES, *KEYS) if c in frame.columns]
    names = frame.select(pl.coalesce(*candidates).fill_null("")).to_series().to_list()
    if "measure" in frame.columns:  # K12: one row per workshop and measure
        measures = [translated(sheet.kpi, "measure", m) for m in frame["measure"]]
        names = [f"{name}: {measure}" for name, measure in zip(names, measures, strict=True)]
    return names


def _table(sheet: Sheet) -> dict:
    """The sheet as the report shows it: a row header (the name), the figures as in the CSV;
    "vorläufig" and "fehlt, weil" only where a row has them."""
    columns = [
        c
        for c in sheet.frame.columns
        if c not in NOT_IN_TABLE and c != "measure" and any(text != "" for text in texts(sheet, c))
    ]
    cells = [texts(sheet, c) for c in columns]
    numeric = [sheet.frame.schema[c].is_numeric() for c in columns]
    return {
        "caption": SHEET_NAMES[sheet.kpi],
        "columns": ["", *(column(sheet.kpi, c).header for c in columns)],
        "align": ["left", *("right" if n else "left" for n in numeric)],
        "rows": [[name, *row] for name, *row in zip(_row_names(sheet), *cells, strict=True)],
    }


def _notes(sheet: Sheet) -> list[str]:
    if "note" not in sheet.frame.columns:
        return []
    return [
        f"{name}: {translated(sheet.kpi, 'note', note)}"
        for name, note in zip(_row_names(sheet), sheet.frame["note"], strict=True)
        if note
    ]


def _chart(sheet: Sheet) -> dict | None:
    """A bar chart of the KPI's rate per row of its grain (no totals), where it has one and at
    least three rows; a suppressed or missing value gets no bar, only its symbol."""
    frame = sheet.frame
    if "value" not in frame.columns or "level" not in frame.columns:
        return None
    base = [i for i, level in enumerate(frame["level"]) if level not in TOTAL_LEVELS]
    if len(base) < 3:
        return None
    header = column(sheet.kpi, "value").header
    names, labels = _row_names(sheet), texts(sheet, "value")
    data = pl.DataFrame(
        {
            "name": [names[i] for i in base],
            "value": [None if labels[i] in ("*", "x") else frame["value"][i] for i in base],
            "label": [labels[i] for i in base],
        },
        schema={"name": pl.String, "value": pl.Float64, "label": pl.String},
    )
    order = data.sort("value", descending=True, nulls_last=True)["name"].to_list()
    axis = alt.Chart(data).encode(y=alt.Y("name:N", sort=order, title=None))
    bars = axis.transform_filter("isValid(datum.value)").mark_bar(color=COLOURS["bar"])
    bars = bars.encode(x=alt.X("value:Q", title=header, axis=alt.Axis(format=",~r")))
    text = axis.transform_calculate(at="isValid(datum.value) ? datum.value : 0").mark_text(
        align="left", dx=4, color=COLOURS["text"], fontSize=11
    )
    chart = (bars + text.encode(x="at:Q", text="label:N")).properties(width=420, height=alt.Step(20))
    chart = chart.configure(
        font=FONT, aria=False, view={"stroke": None},
        axis={"labelColor": COLOURS["text"], "titleColor": COLOURS["text"], "labelFontSize": 11,
              "titleFontSize": 11, "gridColor": "#dddddd", "labelLimit": 320},
    )  # fmt: skip
    svg = vl_convert.vegalite_to_svg(chart.to_dict(validate=False), format_locale="de-DE")
    ranks = texts(sheet, "rank") if "rank" in frame.columns else None
    described = [
        f"{names[i]} {labels[i]}" + (f", Rang {ranks[i]}" if ranks and ranks[i] not in ("*", "x") else "")
        if labels[i] not in ("*", "x")
        else f"{names[i]}: {'gesperrt (*)' if labels[i] == '*' else 'nicht berechenbar (x)'}"
        for i in base
    ]
    alt_text = f"Balkendiagramm {header}: " + "; ".join(described) + "."
    inline = svg.replace(
        "<svg ", f'<svg role="img" aria-label="{html.escape(alt_text)}" focusable="false" ', 1
    )
    grain = {"werkstatt": "Werkstatt", "kreis": "Kreis", "jobcenter": "Jobcenter"}.get(
        frame["level"][base[0]], "Zeile"
    )
    return {"svg": svg, "svg_inline": inline, "alt": alt_text, "caption": f"{header} je {grain}"}


def content(partner, period: str, sheets: list[Sheet], data_through: str) -> dict:
    """What the report says, as plain data (JSON for typst, the context of the HTML template)."""
    sections = []
    for sheet in sheets:
        figure = "value" if "value" in sheet.frame.columns else None
        intro = column(sheet.kpi, figure).explanation if figure else ""
        sections.append(
            {
                "heading": SHEET_NAMES[sheet.kpi],
                "intro": intro,
                "chart": _chart(sheet),
                "tables": [_table(sheet)],
                "notes": _notes(sheet),
            }
        )
    return {
        "title": f"Kennzahlen für {partner.name}, {period}",
        "subtitle": (
            f"Datenstand: Lieferungen bis {data_through}. Erstellt am "
            f"{datetime.now(UTC):%d.%m.%Y} vom Teilhabe Warehouse."
        ),
        "author": "Teilhabe Warehouse",
        "sections": sections,
        "symbols": [f"{symbol}: {meaning}" for symbol, meaning in SYMBOLS if symbol != PROVISIONAL]
        + [f"{PROVISIONAL} in der Spalte „vorläufig“: {dict(SYMBOLS)[PROVISIONAL]}"],
        "colours": COLOURS,
    }


@cache
def _compiler() -> typst.Compiler:
    """One compiler, reused: built from the template's path (a compiler built from bytes cannot
    compile twice), with DejaVu and the fonts in typst's wheel only."""
    fonts = typst.Fonts(include_system_fonts=False, include_embedded_fonts=True, font_paths=list(FONT_DIRS))
    return typst.Compiler(input=str(TEMPLATES / "report.typ"), root=str(TEMPLATES), font_paths=fonts)


@cache
def _html_template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return environment.get_template("report.html.j2")


def render(report: dict) -> Report:
    payload = json.dumps(
        {**report, "sections": [{**s, "chart": s["chart"] and {k: s["chart"][k] for k in ("svg", "alt", "caption")}}
                                for s in report["sections"]]},
        ensure_ascii=False,
    )  # fmt: skip
    pdf, warnings = _compiler().compile_with_warnings(
        format="pdf", sys_inputs={"data": payload}, pdf_standards=["ua-1"]
    )
    for warning in warnings:  # e.g. a missing font: typst falls back to its serif, still readable
        LOG.warning("report %s: typst: %s", report["title"], warning.message)
    return Report(_html_template().render(**report).encode("utf-8"), pdf)


def partner_report(partner, period: str, sheets: list[Sheet], data_through: str) -> Report:
    return render(content(partner, period, sheets, data_through))
