"""A report per partner and period that a person reads (issue 16): in German, as PDF and as
accessible HTML, in every delivery, built from the same suppressed sheets as the extract files.
Every figure in it is the text the CSV holds for that cell (``files.texts``), so a suppressed cell
is "*" here too, and a chart draws no bar for it (not even one of length 0).

Rendered offline: Vega-Lite charts by vl-convert (SVG, German number format), the PDF by typst
(tagged, PDF/UA-1; its data passed as JSON and set as text, never as markup), the HTML by a Jinja2
template with escaping (lang="de", headings, table headers with scope, every chart with a text
alternative that carries its figures, no external URL).
"""

from __future__ import annotations

import html
import json
import logging
import multiprocessing
import os
import re
import struct
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import jinja2
import polars as pl
import typst
import vl_convert

from publish.expected import ON_TIME, german_period
from publish.extracts import TOTAL_LEVELS
from publish.files import Sheet, texts
from publish.labels import (
    DEFINITIONS,
    PROVISIONAL,
    RANKING,
    ROUNDING,
    SHEET_NAMES,
    SYMBOLS,
    column,
    translated,
)
from publish.tiles import TILES

LOG = logging.getLogger(__name__)
TEMPLATES = Path(__file__).with_name("templates")
REPORT_STEM = "bericht"
# Liberation Sans, shipped in templates/fonts (SIL OFL) and no system font, so the PDF is the same
# on every machine. vl-convert carries the same font in its library and measures a chart's texts in
# it from memory; a font it has to open from disk it opens for every text it measures (~1,600 times
# per chart), 3-4 times slower. Arial and Helvetica have its metrics: the HTML page's charts, laid
# out in it, fit in a browser that shows them in one of those.
FONT_DIRS = (str(TEMPLATES / "fonts"),)
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
COLOURS = {"text": "#1a1a1a", "background": "#ffffff", "head": "#e8eef5", "bar": "#1f5a96"}  # WCAG AA
NAMES = ("werkstatt_name", "kreis_name", "jobcenter_name")  # a row's name, first found
KEYS = ("werkstatt_nr", "kreisschluessel", "jobcenter", "landschaftsverband")  # the name's fallback
# Shown once above the table (the period, the partner's scope) or as notes below it, not per row.
NOT_IN_TABLE = {"level", "landschaftsverband", "werkstatt_nr", "kreisschluessel", "jobcenter", "year",
                "month", "note", *NAMES}  # fmt: skip
# The totals a Jobcenter compares itself with, drawn beside its own figures.
COMPARISONS = ("vergleichsgruppe", "nrw")
# Over several months: a rate as it is; a count as an index (first month all lines show = 100),
# since a Jobcenter's count and NRW's differ by an order of magnitude.
TREND_COLUMN = {"k06": "any_target"}
# The figures of a regional overview drawn as tile maps of the Kreise.
TILE_FIGURES = {"k14": ("biap_persons", "transitions", "k07_december")}
TILE_SHADES = ["#f0f4f8", "#7fa6cc"]  # light to mid blue: dark text stays at 4.5:1 or more on every shade
TILE_MISSING = "#d9d9d9"


@dataclass(frozen=True)
class Report:
    html: bytes
    pdf: bytes


@dataclass(frozen=True)
class NotRendered:
    """A report that failed to render: that partner's delivery is blocked, the others' go out."""

    reason: str


def _months(sheet: Sheet) -> list[str] | None:
    """The month of each row, where the sheet holds several months (a Jobcenter's history)."""
    frame = sheet.frame
    if "month" not in frame.columns or frame["month"].n_unique() < 2:
        return None
    return frame["month"].to_list()


def _series_names(sheet: Sheet) -> list[str]:
    """Whose figure each row is: its name, else its key, else whose row it is."""
    frame = sheet.frame
    candidates = [c for c in (*NAMES, *KEYS) if c in frame.columns]
    named = frame.with_columns(pl.coalesce(*candidates).fill_null("").alias("_shown_name"))
    if keys := [c for c in KEYS if c in frame.columns]:
        # Two workshops of one name (there are) would share one bar and one line: their key added.
        key = pl.coalesce(*keys).cast(pl.String)
        shared = key.is_not_null() & (key.n_unique().over("_shown_name") > 1)
        named = named.with_columns(
            _shown_name=pl.when(shared)
            .then(pl.format("{} ({})", "_shown_name", key))
            .otherwise("_shown_name")
        )
    return named["_shown_name"].to_list()


def _row_names(sheet: Sheet) -> list[str]:
    frame = sheet.frame
    names = _series_names(sheet)
    if "measure" in frame.columns:  # K12: one row per workshop and measure
        measures = [translated(sheet.kpi, "measure", m) for m in frame["measure"]]
        names = [f"{name}: {measure}" for name, measure in zip(names, measures, strict=True)]
    return names


SENTENCE_COLUMNS = ("fehlt, weil", "Hinweis")  # a quarter of the page wide in report.typ
SENTENCE_CHARACTERS = 45  # about what a line of such a column holds
KEEP_WHOLE_LINES = 28  # a table this short is kept on one page (a third to half of it)


def _kept_whole(columns: list[str], rows: list[list[str]]) -> bool:
    """Whether a table is short enough to move to the next page whole: the demo's Jobcenter
    report left one row of a three-row table on page 1 and two on page 2 (a partners' review)."""
    wide = [i for i, name in enumerate(columns) if name in SENTENCE_COLUMNS]
    lines = 2 + sum(max([1, *(-(-len(row[i]) // SENTENCE_CHARACTERS) for i in wide)]) for row in rows)
    return lines <= KEEP_WHOLE_LINES


def _table(sheet: Sheet, rows: list[int] | None = None, caption: str | None = None) -> dict:
    """The sheet (or some of its ``rows``) as the report shows it: a row header (the name), the
    figures as in the CSV; "vorläufig" and "fehlt, weil" only where a row has them."""
    rows = list(range(sheet.frame.height)) if rows is None else rows
    shown = {  # each column's texts once (per row, a table of n rows cost n² cells)
        c: [column_texts[i] for i in rows]
        for c in sheet.frame.columns
        if c not in NOT_IN_TABLE and c != "measure"
        for column_texts in [texts(sheet, c, for_reading=True)]
    }
    columns = [c for c, cells in shown.items() if any(cell != "" for cell in cells)]
    cells = [shown[c] for c in columns]
    numeric = [sheet.frame.schema[c].is_numeric() for c in columns]
    names = _row_names(sheet)
    headers = ["", *(column(sheet.kpi, c).header for c in columns)]
    body = [[names[i], *row] for i, *row in zip(rows, *cells, strict=True)]
    return {
        "caption": caption or SHEET_NAMES[sheet.kpi],
        "columns": headers,
        "align": ["left", *("right" if n else "left" for n in numeric)],
        "rows": body,
        "keep": _kept_whole(headers, body),
    }


# A month without a row of a comparison line: its total is not shown to this partner, as with its
# own figures it would give another Jobcenter's away (publish/extracts.py, comparisons).
NOT_SHOWN = "–"


def _history_table(sheet: Sheet) -> dict:
    """The trend's figures as the CSV has them, newest month first: a column per line (the
    Jobcenter, its peer group, NRW); "x" where a row has no value, "–" where a line has no row that
    month (a partners' review read "x" and looked for the reason in a CSV without that row)."""
    months, series = _months(sheet), _series_names(sheet)
    name = TREND_COLUMN.get(sheet.kpi, "value")
    cell = {(m, w): t for m, w, t in zip(months, series, texts(sheet, name, for_reading=True), strict=True)}
    lines = list(dict.fromkeys(series))
    rows = [[m, *(cell.get((m, w), NOT_SHOWN) for w in lines)] for m in sorted(set(months), reverse=True)]
    caption = f"{SHEET_NAMES[sheet.kpi]}: {column(sheet.kpi, name).header} je Monat"
    if any("x" in row[1:] for row in rows):  # this table has no column of reasons (a partners' review)
        caption += " („x“: kein Wert; warum, steht in der Spalte „fehlt, weil“ der CSV- und der Excel-Datei)"
    if any(NOT_SHOWN in row[1:] for row in rows):
        caption += (
            f" („{NOT_SHOWN}“: nicht ausgewiesen, da die Summe mit Ihren eigenen Zahlen die eines einzelnen "
            "anderen Jobcenters erkennen ließe; die CSV- und die Excel-Datei haben diese Zeile nicht)"
        )
    return {
        "caption": caption,
        "columns": ["", *lines],
        "align": ["left", *("right" for _ in lines)],
        "rows": rows,
        "keep": _kept_whole(["", *lines], rows),
    }


def _tables(sheet: Sheet) -> list[dict]:
    """Over several months: the last month's rows in full, then the trend's figure by month."""
    if not (months := _months(sheet)):
        return [_table(sheet)]
    last = max(months)
    rows = [i for i, m in enumerate(months) if m == last]
    return [_table(sheet, rows, f"{SHEET_NAMES[sheet.kpi]}: {last}"), _history_table(sheet)]


def _questions(sheet: Sheet) -> list[str]:
    """The reconciliation's differences that need an answer from the Landschaftsverband or the
    workshop (K12 status "weicht ab" or "fehlt"), as the table shows them; a row whose status is
    suppressed is not listed (whether it differs is withheld too)."""
    if "status" not in sheet.frame.columns:
        return []
    names, status = _row_names(sheet), texts(sheet, "status", for_reading=True)
    reported, computed, difference = (
        texts(sheet, c, for_reading=True) for c in ("reported", "computed", "difference")
    )
    reasons = (
        texts(sheet, "missing_reason", for_reading=True)
        if "missing_reason" in sheet.frame.columns
        else [""] * len(status)
    )
    listed = []
    for i, word in enumerate(status):
        if word == translated(sheet.kpi, "status", "abweichung"):
            listed.append(f"{names[i]}: laut Leistungsdokumentation {reported[i]}, aus Personendaten "
                          f"{computed[i]}, Differenz {difference[i]}.")  # fmt: skip
        elif word == translated(sheet.kpi, "status", "fehlt"):
            side = "Leistungsdokumentation" if reported[i] == "x" else "Personendaten"
            why = f" ({reasons[i]})" if reasons[i] else ""
            listed.append(f"{names[i]}: keine Zahl aus {side}{why}.")
    return listed


def _notes(sheet: Sheet) -> list[str]:
    """One line per note: the rows it is about named together, each row's months once."""
    if "note" not in sheet.frame.columns:
        return []
    names, months = _row_names(sheet), _months(sheet)
    rows_of: dict[str, dict[str, list[str]]] = {}
    for i, (name, note) in enumerate(zip(names, sheet.frame["note"], strict=True)):
        if note:
            rows_of.setdefault(note, {}).setdefault(name, []).append(months[i] if months else "")
    every = sorted(set(months or []))
    lines = []
    for note, rows in rows_of.items():
        named = [
            f"{name} ({_month_spans(sorted(shown), every)})" if months else name
            for name, shown in rows.items()
        ]
        which = f"{', '.join(named[:-1])} und {named[-1]}" if len(named) > 1 else named[0]
        lines.append(f"{which}: {translated(sheet.kpi, 'note', note)}")
    return lines


def _month_spans(months: list[str], every: list[str]) -> str:
    """Months as a reader takes them in: "alle Monate", or runs ("2023-01 bis 2023-06, 2024-02");
    a note on a total of 24 months named the total 24 times (a partners' review)."""
    if months == every:
        return "alle Monate"
    position = {month: i for i, month in enumerate(every)}
    runs: list[list[str]] = []
    for month in months:
        if runs and position[month] == position[runs[-1][-1]] + 1:
            runs[-1].append(month)
        else:
            runs.append([month])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]} bis {run[-1]}" for run in runs)


def _shown(label: str) -> bool:
    return label not in ("*", "x")


def _missing(label: str) -> str:
    return "gesperrt (*)" if label == "*" else "nicht berechenbar (x)"


# Vega-Lite specifications written as data (https://vega.github.io/vega-lite/docs/): made by
# altair's objects, the same charts took ~19 ms more each (all partners' reports of two periods at
# NRW 5 years, 492 charts: 26.7 -> 17.2 s of one core, the SVGs byte for byte the same).
CHART_CONFIG = {
    "font": FONT, "aria": False, "view": {"continuousWidth": 300, "continuousHeight": 300, "stroke": None},
    "axis": {"labelColor": COLOURS["text"], "titleColor": COLOURS["text"], "labelFontSize": 11,
             "titleFontSize": 11, "gridColor": "#dddddd", "labelLimit": 320},
    "legend": {"labelColor": COLOURS["text"], "titleColor": COLOURS["text"], "labelFontSize": 11,
               "labelLimit": 360, "titleLimit": 360, "orient": "bottom", "direction": "vertical"},
}  # fmt: skip


def _field(name: str, kind: str, **more) -> dict:
    """A channel's field definition (kind: nominal, ordinal, quantitative, temporal)."""
    return {"field": name, "type": kind, **more}


def _svg(spec: dict, data: pl.DataFrame, alt_text: str, caption: str) -> dict:
    """The chart of ``spec`` over ``data`` as SVG (German number and date formats), and inline
    with its text alternative."""
    spec = {"config": CHART_CONFIG, "data": {"values": data.to_dicts()}, **spec}
    svg = vl_convert.vegalite_to_svg(spec, format_locale="de-DE", time_format_locale="de-DE")
    inline = svg.replace(
        "<svg ", f'<svg role="img" aria-label="{html.escape(alt_text)}" focusable="false" ', 1
    )
    return {"svg": svg, "svg_inline": inline, "alt": alt_text, "caption": caption}


def _charts(sheet: Sheet) -> list[dict]:
    """A line chart over the months where the sheet holds several (a Jobcenter's history), else a
    bar chart of the KPI's rate per row of its grain, or of a Jobcenter beside its comparisons;
    tile maps of a regional overview's main figures."""
    if _months(sheet):
        return [chart] if (chart := _trend_chart(sheet)) else []
    return [*_bar_charts(sheet), *_tile_maps(sheet)]


# A bar chart of more bars would not fit on the PDF's page at a readable size (the LWL's 49
# workshops, the 53 Kreise): it is drawn in parts, on one scale.
BARS_PER_CHART = 18


def _bar_charts(sheet: Sheet) -> list[dict]:
    """Bars of the rate: per row of the KPI's grain (no totals) where there are at least three, or
    one row beside the totals it compares with (a Jobcenter, its peer group, NRW), highest first. A
    suppressed or missing value gets no bar, only its symbol."""
    frame = sheet.frame
    if "value" not in frame.columns or "level" not in frame.columns:
        return []
    levels = frame["level"].to_list()
    base = [i for i, level in enumerate(levels) if level not in TOTAL_LEVELS]
    if len(base) == 1 and any(level in COMPARISONS for level in levels):
        base += [i for i, level in enumerate(levels) if level in COMPARISONS]
    elif set(levels) <= {"landschaftsverband", "nrw"} and len(levels) >= 2:  # a table of the two LVs
        base = list(range(len(levels)))
    elif len(base) < 3:
        return []
    header = column(sheet.kpi, "value").header
    names, labels, ranks = _row_names(sheet), texts(sheet, "value", for_reading=True), _ranks(sheet)
    shown = [_shown(labels[i]) for i in range(frame.height)]
    data = pl.DataFrame(
        {
            "name": [names[i] for i in base],
            "value": [frame["value"][i] if shown[i] else None for i in base],
            "label": [labels[i] + ranks[i] if shown[i] else labels[i] for i in base],
            "described": [
                f"{names[i]} {labels[i]}{ranks[i]}" if shown[i] else f"{names[i]}: {_missing(labels[i])}"
                for i in base
            ],
        },
        schema={"name": pl.String, "value": pl.Float64, "label": pl.String, "described": pl.String},
    ).sort("value", descending=True, nulls_last=True, maintain_order=True)
    if data["value"].drop_nulls().is_empty():
        # no bar to draw (every rate missing or suppressed): the table says why; a partners' review
        # found a K04 chart of names with no bar
        return []
    grain = {
        "werkstatt": "Werkstatt", "kreis": "Kreis", "jobcenter": "Jobcenter", "landschaftsverband": "Landschaftsverband"
    }.get(levels[base[0]], "Zeile")  # fmt: skip
    parts = -(-data.height // BARS_PER_CHART)
    size = -(-data.height // parts)  # parts of equal size
    top = data["value"].max()
    domain = [0, float(top)] if top is not None and top > 0 else None  # all 0: the axis as drawn by default
    charts = []
    for number, start in enumerate(range(0, data.height, size), 1):
        part = f", Teil {number} von {parts}" if parts > 1 else ""
        charts.append(_bars(data.slice(start, size), header, domain, part, f"{header} je {grain}{part}"))
    return charts


def _bars(data: pl.DataFrame, header: str, domain: list | None, part: str, caption: str) -> dict:
    y = _field("name", "nominal", sort=data["name"].to_list(), title=None)
    x = _field("value", "quantitative", title=header, axis={"format": ",~r"})
    if domain:
        x["scale"] = {"domain": domain, "nice": True}
    spec = {
        "layer": [
            {"mark": {"type": "bar", "color": COLOURS["bar"]}, "encoding": {"x": x, "y": y},
             "transform": [{"filter": "isValid(datum.value)"}]},
            {"mark": {"type": "text", "align": "left", "color": COLOURS["text"], "dx": 4, "fontSize": 11},
             "encoding": {"text": _field("label", "nominal"), "x": _field("at", "quantitative"), "y": y},
             "transform": [{"calculate": "isValid(datum.value) ? datum.value : 0", "as": "at"}]},
        ],
        "height": {"step": 20},
        "width": 420,
    }  # fmt: skip
    alt_text = f"Balkendiagramm {header}{part}: " + "; ".join(data["described"]) + "."
    return _svg(spec, data, alt_text, caption)


def _ranks(sheet: Sheet) -> list[str]:
    """Per row ", Rang 1 (Vorjahr 3)" where the sheet ranks its rows and the rank is shown, else ""."""
    height = sheet.frame.height
    if "rank" not in sheet.frame.columns:
        return [""] * height
    before = (
        texts(sheet, "rank_prev_year", for_reading=True)
        if "rank_prev_year" in sheet.frame.columns
        else [""] * height
    )
    return [
        f", Rang {rank}" + (f" (Vorjahr {prev})" if prev and _shown(prev) else "")
        if rank and _shown(rank)
        else ""
        for rank, prev in zip(texts(sheet, "rank", for_reading=True), before, strict=True)
    ]


def _tile_maps(sheet: Sheet) -> list[dict]:
    """A tile map of the Kreise (publish/tiles.py) for each main figure of a regional overview,
    where the sheet has at least three Kreise: a tile's shade is its value; a suppressed or missing
    value is a grey tile with its symbol, never a shade."""
    frame = sheet.frame
    if "kreisschluessel" not in frame.columns or "level" not in frame.columns:
        return []
    rows = [
        i
        for i, (level, key) in enumerate(zip(frame["level"], frame["kreisschluessel"], strict=True))
        if level == "kreis" and key in TILES
    ]
    if len(rows) < 3:
        return []
    maps = []
    for name in TILE_FIGURES.get(sheet.kpi, ()):
        labels, header = texts(sheet, name, for_reading=True), column(sheet.kpi, name).header
        keys = [frame["kreisschluessel"][i] for i in rows]
        data = pl.DataFrame(
            {
                "row": [TILES[k][0] for k in keys],
                "col": [TILES[k][1] for k in keys],
                "tile": [TILES[k][2] for k in keys],
                "value": [frame[name][i] if _shown(labels[i]) else None for i in rows],
                "label": [labels[i] for i in rows],
            },
            schema={
                "row": pl.Int64,
                "col": pl.Int64,
                "tile": pl.String,
                "value": pl.Float64,
                "label": pl.String,
            },
        )
        grid = {
            "x": _field("col", "ordinal", axis=None, scale={"domain": _steps(data["col"])}),
            "y": _field("row", "ordinal", axis=None, scale={"domain": _steps(data["row"])}),
        }
        shade = _field(
            "value", "quantitative", title=header, scale={"range": TILE_SHADES},
            legend={"direction": "vertical", "format": ",~r", "orient": "right"},
        )  # fmt: skip
        tile = {"type": "rect", "stroke": "white", "strokeWidth": 2}
        text = {"type": "text", "color": COLOURS["text"]}
        spec = {
            "layer": [  # every Kreis a grey tile; shaded on top only where its value is shown
                {"mark": {**tile, "color": TILE_MISSING}, "encoding": grid},
                {"mark": tile, "encoding": {**grid, "color": shade},
                 "transform": [{"filter": "isValid(datum.value)"}]},
                {"mark": {**text, "dy": -7, "fontSize": 9}, "encoding": {**grid, "text": _field("tile", "nominal")}},
                {"mark": {**text, "dy": 7, "fontSize": 11, "fontWeight": "bold"},
                 "encoding": {**grid, "text": _field("label", "nominal")}},
            ],
            "height": {"step": 44},
            "width": {"step": 66},
        }  # fmt: skip
        described = [
            f"{frame['kreis_name'][i] if 'kreis_name' in frame.columns else frame['kreisschluessel'][i]} "
            + (labels[i] if _shown(labels[i]) else _missing(labels[i]))
            for i in rows
        ]
        alt_text = f"Kachelkarte {header} je Kreis: " + "; ".join(described) + "."
        maps.append(
            _svg(
                spec,
                data,
                alt_text,
                f"{header} je Kreis (Kachelkarte: ein Feld je Kreis, Lage wie auf der Karte)",
            )
        )
    return maps


def _steps(values: pl.Series) -> list[int]:
    """Every row or column of the tile grid from the first to the last used, empty ones too."""
    return list(range(values.min(), values.max() + 1))


def _german(number: float) -> str:
    return f"{number:.1f}".replace(".", ",")


INCOMPLETE = "unvollständig"  # a total that sums only some of its parts: no point on its line


def _trend_points(sheet: Sheet) -> tuple[list[str], list[str], list, list[str], str]:
    """Per row: its line, month, the value drawn (None: no point), its text, and the axis title.
    A total that sums only some of its parts (its note says so) is drawn as no point: beside
    complete months its line would fall (a partners' review read a 30 % fall of NRW's line in
    months that summed two of three Jobcenters)."""
    frame, months = sheet.frame, _months(sheet)
    name = TREND_COLUMN.get(sheet.kpi, "value")
    series, labels = _series_names(sheet), texts(sheet, name, for_reading=True)
    notes = frame["note"].to_list() if "note" in frame.columns else [None] * frame.height
    incomplete = ["parts without a value" in (note or "") for note in notes]
    values = [
        frame[name][i] if _shown(labels[i]) and not incomplete[i] else None for i in range(frame.height)
    ]
    header = column(sheet.kpi, name).header
    shown_texts = labels
    if name != "value":  # an index: 100 in the first month in which every line shows a value
        by_month: dict[str, dict[str, float]] = {}
        for who, month, value in zip(series, months, values, strict=True):
            if value is not None:
                by_month.setdefault(month, {})[who] = value
        lines = set(series)
        start = next(
            (m for m in sorted(by_month) if set(by_month[m]) == lines and all(by_month[m].values())), None
        )
        base = by_month[start] if start else {}
        values = [
            v * 100 / base[w] if v is not None and w in base else None
            for w, v in zip(series, values, strict=True)
        ]
        shown_texts = [
            _german(v) if v is not None else label for v, label in zip(values, labels, strict=True)
        ]
        header = f"{header}, Index ({start or 'erster Monat'} = 100)"
    shown_texts = [INCOMPLETE if cut else text for cut, text in zip(incomplete, shown_texts, strict=True)]
    return series, months, values, shown_texts, header


def _trend_chart(sheet: Sheet) -> dict | None:
    """Lines over the months, one per row name (a Jobcenter, its peer group, NRW): the rate, or a
    count as an index. A suppressed or missing value, an incomplete total and a month without a
    row get no point and break the line (it was drawn straight across a month without a row).
    None where no month has a point: the table alone says why."""
    series, months, values, shown_texts, header = _trend_points(sheet)
    order = list(dict.fromkeys(series))  # each line keeps its colour, drawn or not
    described = []
    for who in order:  # every month, with why it has no point
        points = [
            f"{month} {text}" if _shown(text) else f"{month} {_missing(text)}"
            for w, month, text in zip(series, months, shown_texts, strict=True)
            if w == who
        ]
        described.append(f"{who}: " + ", ".join(points))
    # The axis begins at the first month with a point: K07's first year, a rate of twelve months
    # that needs thirteen, took half the width as an empty axis (a partners' review). The table
    # lists those months with their reason; a gap later on stays in the chart.
    first = min((m for m, v in zip(months, values, strict=True) if v is not None), default=None)
    if first is None:
        return None
    kept = [i for i, month in enumerate(months) if month >= first]
    series, months, values = ([items[i] for i in kept] for items in (series, months, values))
    present = set(zip(series, months, strict=True))
    gaps = [(w, m) for w in order for m in sorted(set(months)) if (w, m) not in present]
    data = pl.DataFrame(
        {
            "series": [*series, *(w for w, _ in gaps)],
            "month": [f"{m}-01" for m in (*months, *(m for _, m in gaps))],
            "value": [*values, *(None for _ in gaps)],
        },
        schema={"series": pl.String, "month": pl.String, "value": pl.Float64},
    )
    colours = [COLOURS["bar"], "#b35c00", "#4d4d4d"]  # each at least 4.5:1 on white
    spec = {
        "mark": {"type": "line", "invalid": "break-paths-filter-domains", "point": True, "strokeWidth": 2},
        "encoding": {
            "color": _field("series", "nominal", scale={"range": colours}, sort=order, title=None),
            "strokeDash": _field("series", "nominal", legend=None, sort=order),
            "x": _field("month", "temporal", axis={"format": "%m/%Y", "labelAngle": -45, "tickCount": 12},
                        title=None),
            "y": _field("value", "quantitative", axis={"format": ",~r"}, scale={"zero": False}, title=header),
        },
        "height": 240,
        "width": 640,
    }  # fmt: skip
    alt_text = f"Liniendiagramm {header} je Monat: " + "; ".join(described) + "."
    return _svg(spec, data, alt_text, f"{header}, {min(months)} bis {max(months)}")


def content(
    partner,
    period: str,
    sheets: list[Sheet],
    data_through: str,
    data_status: list[str] | None = None,
    edition: list[str] | None = None,
) -> dict:
    """What the report says, as plain data (JSON for typst, the context of the HTML template)."""
    sections = []
    for sheet in sheets:
        rounding = f" {ROUNDING}" if "value" in sheet.frame.columns else ""
        rounding += f" {RANKING}" if "rank" in sheet.frame.columns else ""
        intro = DEFINITIONS[sheet.kpi] + rounding
        sections.append(
            {
                "heading": SHEET_NAMES[sheet.kpi],
                "intro": intro,
                "charts": _charts(sheet),
                "tables": _tables(sheet),
                "notes": _notes(sheet),
                "questions": _questions(sheet),
            }
        )
    return {
        "title": f"Kennzahlen für {partner.name}, {german_period(period)}",
        "subtitle": (
            f"Berücksichtigt sind die Lieferungen bis {german_period(data_through)}. Erstellt am "
            f"{datetime.now(UTC):%d.%m.%Y} vom Teilhabe Warehouse."
        ),
        "author": "Teilhabe Warehouse",
        "sections": sections,
        "data_status": (data_status or [ON_TIME]) if data_status is not None else [],
        "edition": list(edition or []),
        "symbols": [f"{symbol}: {meaning}" for symbol, meaning in SYMBOLS if symbol != PROVISIONAL]
        + [
            f"{PROVISIONAL} in der Spalte „vorläufig“: {dict(SYMBOLS)[PROVISIONAL].removeprefix('vorläufig: ')}"
        ],
        "colours": COLOURS,
    }


@cache
def _compiler() -> typst.Compiler:
    """One compiler, reused: built from the template's path (a compiler built from bytes cannot
    compile twice), with Liberation Sans and the fonts in typst's wheel only."""
    fonts = typst.Fonts(include_system_fonts=False, include_embedded_fonts=True, font_paths=list(FONT_DIRS))
    return typst.Compiler(input=str(TEMPLATES / "report.typ"), root=str(TEMPLATES), font_paths=fonts)


@cache
def html_template(name: str) -> jinja2.Template:
    """A page template of publish/templates, escaping everything it is given."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.globals["font"] = FONT
    return environment.get_template(name)


def render(report: dict) -> Report:
    printed = {**report, "font": FONT.split(",", maxsplit=1)[0],
               "sections": [{**s, "charts": [{k: c[k] for k in ("svg", "alt", "caption")} for c in s["charts"]]}
                            for s in report["sections"]]}  # fmt: skip
    lacking: set[str] = set()
    payload = json.dumps(_in_font(printed, lacking), ensure_ascii=False)
    if lacking:
        LOG.warning(
            "report %s: characters the PDF's font has no glyph for are shown as %s in the PDF (the HTML "
            "page shows them as sent): %s", report["title"], NO_GLYPH,
            ", ".join(f"U+{ord(c):04X}" for c in sorted(lacking)),
        )  # fmt: skip
    pdf, warnings = _compiler().compile_with_warnings(
        format="pdf", sys_inputs={"data": payload}, pdf_standards=["ua-1"]
    )
    for warning in warnings:  # e.g. a missing font: typst falls back to its serif, still readable
        LOG.warning("report %s: typst: %s", report["title"], warning.message)
    page = _numbered_ids(html_template("report.html.j2").render(**report))
    return Report(page.encode("utf-8"), pdf)


# A register's workshop name may hold any character (an emoji, CJK): a tagged PDF (PDF/UA) may not
# show a character its font has no glyph for, and typst refuses to make it. In the PDF only, such a
# character becomes NO_GLYPH; an invisible one (a control, a bidi isolate) or a mark is left out.
NO_GLYPH = "\u25a1"  # □, in Liberation Sans


def _in_font(value, lacking: set[str]):
    """``value`` (a report's content: dicts, lists, texts) with every text NFC-normalised and each
    character outside the PDF's fonts replaced; those characters are added to ``lacking``."""
    if isinstance(value, str):
        return _not_in_font().sub(
            lambda m: _replaced(m.group(), lacking), unicodedata.normalize("NFC", value)
        )
    if isinstance(value, dict):
        return {key: _in_font(item, lacking) for key, item in value.items()}
    if isinstance(value, list):
        return [_in_font(item, lacking) for item in value]
    return value


def _replaced(char: str, lacking: set[str]) -> str:
    lacking.add(char)
    invisible = unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Mn", "Me")
    return "" if invisible else NO_GLYPH  # a mark (an emoji's variation selector) goes with its letter


def _covered(font: Path) -> set[int]:
    """The code points a TrueType font has a glyph for: its Windows Unicode (3, 1) cmap, format 4."""
    data = font.read_bytes()
    tables = struct.unpack_from(">H", data, 4)[0]
    cmap = next(
        struct.unpack_from(">I", data, 12 + 16 * i + 8)[0]
        for i in range(tables)
        if data[12 + 16 * i : 16 + 16 * i] == b"cmap"
    )
    subtables = struct.unpack_from(">H", data, cmap + 2)[0]
    at = next(
        cmap + struct.unpack_from(">I", data, cmap + 4 + 8 * i + 4)[0]
        for i in range(subtables)
        if struct.unpack_from(">HH", data, cmap + 4 + 8 * i) == (3, 1)
    )
    assert struct.unpack_from(">H", data, at)[0] == 4, f"{font.name}: cmap format 4 expected"
    segments = struct.unpack_from(">H", data, at + 6)[0] // 2
    ends_at, starts_at = at + 14, at + 16 + 2 * segments  # a reserved pad between the two
    deltas_at, offsets_at = at + 16 + 4 * segments, at + 16 + 6 * segments
    ends, starts, offsets = (
        struct.unpack_from(f">{segments}H", data, a) for a in (ends_at, starts_at, offsets_at)
    )
    deltas = struct.unpack_from(f">{segments}h", data, deltas_at)
    covered = set()
    for i, (start, end, delta, offset) in enumerate(zip(starts, ends, deltas, offsets, strict=True)):
        for code in range(start, min(end, 0xFFFE) + 1):
            if offset:  # the glyph is looked up in an array after the offsets
                glyph = struct.unpack_from(">H", data, offsets_at + 2 * i + offset + 2 * (code - start))[0]
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            else:
                glyph = (code + delta) & 0xFFFF
            if glyph:
                covered.add(code)
    return covered


@cache
def _not_in_font() -> re.Pattern:
    """A character neither of the shipped fonts (regular, bold) has, nor a line break or tab."""
    covered = set.intersection(*(_covered(font) for font in (TEMPLATES / "fonts").glob("*.ttf")))
    covered |= {ord(c) for c in "\t\n\r"}
    starts = sorted(code for code in covered if code - 1 not in covered)
    ends = sorted(code for code in covered if code + 1 not in covered)
    ranges = "".join(f"\\U{start:08x}-\\U{end:08x}" for start, end in zip(starts, ends, strict=True))
    return re.compile(f"[^{ranges}]")


_SVG_ID = re.compile(r'(id="|url\(#)(gradient_|clip)(\d+)')


def _numbered_ids(page: str) -> str:
    """Vega numbers a chart's gradients and clips by a counter of the process it runs in; numbered
    again in order on the page, they stay unique on it, and the same report is the same page in
    whichever process it was rendered (and in a rerun)."""
    numbers: dict[tuple[str, str], int] = {}

    def renumbered(match: re.Match) -> str:
        key = (match.group(2), match.group(3))
        number = numbers.setdefault(key, sum(kind == key[0] for kind, _ in numbers))
        return f"{match.group(1)}{match.group(2)}{number}"

    return _SVG_ID.sub(renumbered, page)


def partner_report(*job) -> Report:
    """A partner's report rendered; ``job``: the arguments of ``content``."""
    return render(content(*job))


# A worker process starts in ~1.5 s (this module and typst imported again, Vega's engine started);
# a report takes ~0.2 s. Below this many reports one process is quicker.
POOL_FROM = 12


def partner_reports(jobs: list[tuple]) -> list[Report | NotRendered]:
    """``partner_report(*job)`` for every job, in order (see ``ReportRendering``)."""
    with ReportRendering(len(jobs)) as rendering:
        return list(rendering.render(jobs).reports())


class ReportRendering:
    """``partner_report(*job)`` for every job: in worker processes, one per core, when there are
    enough to pay for their start-up (all 56 partners' reports at NRW scale: 13.5 s in one process,
    ~10 s in two on 2 cores). The workers start on entering, for as many reports as are
    ``expected``, and get ready while the caller decides what to render (the extracts' tables);
    ``render()`` hands them the jobs, the caller's own work (Great Expectations) runs meanwhile, and
    ``reports()`` waits for them, in order (a report that failed as ``NotRendered``). Fewer jobs
    are rendered in this process by ``reports()``. The workers are spawned, so a script that
    publishes must keep its own work under ``if __name__ == "__main__":`` (as the ``teilhabe`` and
    ``dagster`` commands do)."""

    def __init__(self, expected: int):
        self.expected = expected
        self.jobs: list[tuple] = []
        self._pool: ProcessPoolExecutor | None = None
        self._workers = min(os.cpu_count() or 1, expected // (POOL_FROM // 2))
        self._pending = None

    def __enter__(self) -> ReportRendering:
        if self.expected >= POOL_FROM and self._workers >= 2:
            # spawn, not fork: the publishing process holds the warehouse open and DuckDB's threads
            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"))
            for _ in range(self._workers):
                self._pool.submit(_get_ready)
        return self

    def render(self, jobs: list[tuple]) -> ReportRendering:
        self.jobs = jobs
        if self._pool is not None and len(jobs) >= POOL_FROM:
            chunks = max(1, len(jobs) // (4 * self._workers))
            self._pending = self._pool.map(_report_of, jobs, chunksize=chunks)
        return self

    def reports(self) -> Iterator[Report | NotRendered]:
        """The reports in the jobs' order, each as soon as it is rendered."""
        if self._pending is None:
            return (_report_of(job) for job in self.jobs)
        return iter(self._pending)

    def __exit__(self, *_) -> None:
        if self._pool is not None:  # workers that got nothing to render are not waited for
            self._pool.shutdown(wait=self._pending is not None, cancel_futures=True)


def _get_ready() -> None:
    """A worker's first task: this module imported (by unpickling this function), the typst
    compiler built and Vega's engine started (its first chart takes ~1 s)."""
    _compiler()
    vl_convert.vegalite_to_svg({"mark": "point", "data": {"values": [{"x": 1}]}})


def _report_of(job: tuple) -> Report | NotRendered:
    try:
        return partner_report(*job)
    except Exception as error:  # one partner's report, whatever failed in it
        return NotRendered(f"{type(error).__name__}: {error}")
