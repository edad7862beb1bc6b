"""The report a person reads, in every delivery (issue 16): in German, as PDF and accessible HTML,
built from the same suppressed tables as the CSV files. Checked on the demo run: the PDF's text holds
every row of figures exactly as the CSV does; a suppressed value is "*" and gets no bar; the HTML
has a language, headings, table headers with scope, text alternatives that carry the figures, and
no external URL."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pypdf
import pytest

from publish.extracts import EXTRACTS
from publish.labels import DEFINITIONS, column
from publish.reports import TILE_MISSING, TREND_COLUMN

PARTNERS = ("lwl", "lvr", "nrw_inklusiv", "jobcenter_05112", "jobcenter_05513", "jobcenter_05914")
# a row's name in the report: its name, else its key, else whose row it is
NAMES = ("Werkstatt", "Kreis", "Jobcenter", "Werkstatt-Nr.", "Kreisschlüssel", "Jobcenter (Kreisschlüssel)",
         "Landschaftsverband")  # fmt: skip


def _latest(home: Path, partner: str) -> Path:
    return next(p for p in (home / "outbox" / partner).iterdir() if p.name != "rueckmeldung") / "latest"


def _pdf_text(path: Path) -> str:
    """The PDF's text with whitespace collapsed (a name wrapped in its cell at a hyphen joined again)."""
    text = " ".join(" ".join(page.extract_text().split()) for page in pypdf.PdfReader(path).pages)
    return re.sub(r"(?<=\w)- (?=\w)", "-", text)


def _as_read(cell: str) -> str:
    """A CSV figure as a German reader expects it in the report: 2209 -> 2.209, 1631,44 -> 1.631,44."""
    if not (figure := re.fullmatch(r"(-?\d+)(,\d+)?", cell)):
        return cell
    return format(int(figure[1]), ",d").replace(",", ".") + (figure[2] or "")


def _figure_rows(path: Path) -> list[str]:
    """Each CSV row as the report's tables show it: the row's name, then its figures. A CSV of
    several months (a Jobcenter's history): the last month's rows so, and per month the trend's
    figure of each line (the Jobcenter, its peer group, NRW; "x" where a line has no row)."""
    kpi = path.stem
    extract = EXTRACTS[kpi]
    figures = [column(kpi, c).header for c in (*extract.counts, *extract.rates, *extract.means)]
    rows, named = [], []
    read = list(csv.DictReader(path.read_text("utf-8-sig").splitlines(), delimiter=";"))
    numbers: dict[str, set] = {}  # two workshops of one name are told apart by their number
    for row in read:
        numbers.setdefault(next(row[h] for h in NAMES if row.get(h)), set()).add(row.get("Werkstatt-Nr."))
    for row in read:
        name = next(row[h] for h in NAMES if row.get(h))
        if len(numbers[name]) > 1:
            name = f"{name} ({row['Werkstatt-Nr.']})"
        if kpi == "k12":
            name = f"{name}: {row['Merkmal']}"
        first = list(row).index(figures[0])
        cells = [
            _as_read(row[h]) for h in list(row)[first:] if h not in ("vorläufig", "fehlt, weil", "Hinweis")
        ]
        rows.append(" ".join([name, *cells]))
        named.append((row.get("Monat"), name, row))
    months = sorted({month for month, _, _ in named if month})
    if len(months) < 2:
        return rows
    trend = column(kpi, TREND_COLUMN.get(kpi, "value")).header
    lines = list(dict.fromkeys(name for _, name, _ in named))
    cell = {(month, name): _as_read(row[trend]) for month, name, row in named}
    last = [r for r, (month, _, _) in zip(rows, named, strict=True) if month == months[-1]]
    return last + [" ".join([m, *(cell.get((m, line), "x") for line in lines)]) for m in months]


def test_the_pdf_shows_every_figure_as_the_csv_does(demo_home):
    home = demo_home["root"]
    checked = grouped = 0
    for partner in PARTNERS:
        latest = _latest(home, partner)
        text = _pdf_text(latest / "bericht.pdf")
        assert text.startswith("Kennzahlen für"), text[:200]
        for path in sorted(latest.glob("k*.csv")):
            for row in _figure_rows(path):
                assert row in text, f"{partner} {path.name}: {row!r} not in the PDF"
                checked += 1
                grouped += bool(re.search(r"\b\d{1,3}\.\d{3}\b", row))
    assert checked > 50
    assert grouped, "figures of 1.000 and more with a thousands separator, as a German reader expects"
    lwl = _pdf_text(_latest(home, "lwl") / "bericht.pdf")
    assert "Emscher-Werkstatt 114 576 19,79 1 " in lwl, "the seeds' figure and rank 1"


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict, tuple[str, ...]]] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs), tuple(self.open)))
        if tag not in ("meta", "path", "line", "rect", "br"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]


def test_the_html_is_accessible_and_self_contained(demo_home):
    home = demo_home["root"]
    for partner in PARTNERS:
        page = (_latest(home, partner) / "bericht.html").read_text("utf-8")
        parsed = _Page()
        parsed.feed(page)
        tags = parsed.tags
        assert tags[0][0] == "html" and tags[0][1].get("lang") == "de"
        headings = [t for t, _, _ in tags if re.fullmatch(r"h\d", t)]
        assert headings[0] == "h1" and headings.count("h1") == 1 and "h2" in headings
        for tag, attributes, within in tags:
            if tag == "th":
                assert attributes.get("scope") == ("col" if "thead" in within else "row"), partner
            if tag == "svg":
                assert attributes.get("role") == "img" and attributes.get("aria-label"), partner
        urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
        assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
        for path in _latest(home, partner).glob("k*.csv"):  # each KPI defined in plain German
            assert DEFINITIONS[path.stem] in page, (partner, path.stem)
    lwl = (_latest(home, "lwl") / "bericht.html").read_text("utf-8")
    assert "Emscher-Werkstatt 19,79, Rang 1 (Vorjahr 3)" in lwl, (
        "the chart's text alternative carries the figures"
    )


def test_a_suppressed_value_gets_no_bar(demo_home):
    """A chart never shows a suppressed value, not even as a bar of length 0, a point or a tile's
    shade: one bar per shown value, one point per shown month, one shaded tile per shown Kreis."""
    home = demo_home["root"]
    charts = lines = maps = 0
    for partner in PARTNERS:
        page = (_latest(home, partner) / "bericht.html").read_text("utf-8")
        for svg in re.findall(r"<svg .*?</svg>", page, re.S):
            label = re.search(r'aria-label="([^"]*)"', svg).group(1)
            if label.startswith("Liniendiagramm"):  # "<line>: <month> <value>, ...; <line>: ..."
                points = re.search(r'<g class="mark-symbol role-mark[^>]*>(.*?)</g>', svg, re.S)
                shown = re.findall(r"\d{4}-\d{2} \d", label)
                assert (points.group(1).count("<path") if points else 0) == len(shown), (partner, label)
                lines += 1
                continue
            if label.startswith("Kachelkarte"):  # "<Kreis> <value>; ...": a grey tile each, a shade if shown
                described = label.split(" je Kreis: ", 1)[1].rstrip(".").split("; ")
                shown = [d for d in described if not d.endswith(("(*)", "(x)"))]
                grey, shaded = re.findall(r'<g class="mark-rect role-mark[^>]*>(.*?)</g>', svg, re.S)
                assert set(re.findall(r'fill="([^"]*)"', grey)) == {TILE_MISSING}
                assert grey.count("<path") == len(described) and shaded.count("<path") == len(shown), label
                assert TILE_MISSING not in shaded
                maps += 1
                continue
            described = label.split(": ", 1)[1].rstrip(".").split("; ")
            shown = [d for d in described if not d.endswith(("(*)", "(x)"))]
            bars = re.search(r'<g class="mark-rect role-mark[^>]*>(.*?)</g>', svg, re.S)
            assert (bars.group(1).count("<path") if bars else 0) == len(shown), (partner, label)
            charts += 1
            charts_with_star = any(d.endswith("(*)") for d in described)
            if charts_with_star:
                assert "gesperrt (*)" in label
    assert charts >= 5
    assert lines == 2 * 3, "K06 and K07 over 24 months in each Jobcenter's report"
    assert maps == 3 * 3, "K14's three tile maps for LWL, LVR and NRW inklusiv"


def test_a_jobcenter_report_compares_it_with_its_peer_group_and_nrw_over_two_years(demo_home):
    page = (_latest(demo_home["root"], "jobcenter_05914") / "bericht.html").read_text("utf-8")
    labels = re.findall(r'<svg [^>]*aria-label="([^"]*)"', page)
    k07 = next(label for label in labels if label.startswith("Liniendiagramm Integrationsquote SB/GL"))
    lines = re.findall(r"(?:^|; )([^;]+?): 20\d\d-\d\d ", k07.split(" je Monat: ", 1)[1])
    assert lines == [
        "Jobcenter Hagen",
        "Vergleichsgruppe: Jobcenter gE in kreisfreien Städten",
        "NRW insgesamt",
    ]
    assert len(re.findall(r"Jobcenter Hagen: (.*?)(?:;|\.$)", k07)[0].split(", 20")) == 24, "24 months"
    k08 = next(label for label in labels if label.startswith("Balkendiagramm Werkakademie"))
    assert "Jobcenter Hagen " in k08 and "Vergleichsgruppe: " in k08 and "NRW insgesamt " in k08


def test_a_jobcenter_report_says_how_many_jobcenters_its_totals_sum_once_per_total(demo_home):
    """The demo has 3 of NRW's 53 Jobcenters: "NRW insgesamt" is their sum, and the report says so
    under each table of Jobcenters, once per total for all its months (not once per month)."""
    from publish.reports import _month_spans

    text = _pdf_text(_latest(demo_home["root"], "jobcenter_05914") / "bericht.pdf")
    said = (
        "NRW insgesamt (alle Monate): Summe aus 3 von 53 Jobcentern: die übrigen haben für den Zeitraum "
        "keine Werte (keine Daten geliefert oder Wert fehlt)"
    )
    assert text.count(said) == 1, "K06, a table of months"
    assert "NRW insgesamt (2024-01 bis 2024-12): Summe aus 3 von 53 Jobcentern" in text, (
        "K07 has no 2023 values"
    )
    assert "Summe aus 0 von" not in text, "a total without a value says why it is missing instead"
    assert "NRW insgesamt: Summe aus 3 von 53 Jobcentern" in text, "K08, K09: one year"
    assert "NRW insgesamt, 2023-01" not in text
    every = [f"2023-{m:02d}" for m in range(1, 13)]
    assert _month_spans([*every[:6], every[8]], every) == "2023-01 bis 2023-06, 2023-09"


def test_a_landschaftsverband_report_lists_the_differences_that_need_an_answer(demo_home):
    asked = 0
    for partner in ("lwl", "lvr"):
        latest = _latest(demo_home["root"], partner)
        page = (latest / "bericht.html").read_text("utf-8")
        for row in csv.DictReader((latest / "k12.csv").read_text("utf-8-sig").splitlines(), delimiter=";"):
            listed = (
                f"{row['Werkstatt']}: {row['Merkmal']}: laut Leistungsdokumentation {row['laut Leistungsdokumentation']}, "
                f"aus Personendaten {row['aus Personendaten']}, Differenz {row['Differenz']}."
            )
            assert (listed in page) == (row["Abgleich"] == "weicht ab"), listed
            asked += row["Abgleich"] == "weicht ab"
    assert asked, "the demo's Leistungsdokumentation differs somewhere"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium here (Debian package chromium)")
def test_a_browser_renders_the_lwl_report(demo_home, tmp_path):
    """A screenshot in the test output (headless Chromium from Debian's packages)."""
    page = _latest(demo_home["root"], "lwl") / "bericht.html"
    shot = tmp_path / "bericht_lwl.png"
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         "--window-size=1200,1600", page.as_uri()],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 20_000, done.stderr[-2000:]
    print(f"screenshot: {shot}")


def test_reports_rendered_in_worker_processes_equal_those_rendered_in_one(demo_home):
    """A new month at NRW scale renders ~50 reports in a pool of processes: each the same page as
    one process renders."""
    import duckdb

    from publish.expected import data_status
    from publish.extracts import decide, partner_sheets
    from publish.periods import shown_months
    from publish.reports import POOL_FROM, partner_report, partner_reports
    from publish.step import partners_in_warehouse

    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        decision = decide(con)
        jobs = []
        for partner in partners_in_warehouse(con):
            period = {"year": "2024", "month": "2024-12", "quarter": "2024-Q4"}[partner.period]
            status = data_status(con, partner, shown_months(period, partner.history_months))
            jobs.append((partner, period, partner_sheets(decision, partner, period), period, status))
    jobs = (jobs * POOL_FROM)[:POOL_FROM]
    pooled = partner_reports(jobs)
    assert [r.html for r in pooled] == [partner_report(*job).html for job in jobs]
    assert all(r.pdf.startswith(b"%PDF") for r in pooled)


def test_two_workshops_of_one_name_get_a_bar_and_a_row_each(demo_home):
    """Registers hold workshops of one name (NRW: two "Werkstatt Dortmund" of the LWL). Each keeps
    its own bar, line of the chart's text and table row, told apart by its number."""
    import dataclasses

    import duckdb
    import polars as pl

    from publish.extracts import decide, partner_sheets
    from publish.reports import partner_report
    from publish.step import partners_in_warehouse

    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        lwl = next(p for p in partners_in_warehouse(con) if p.id == "lwl")
        sheets = partner_sheets(decide(con), lwl, "2024")
    k01 = next(s for s in sheets if s.kpi == "k01")
    workshops = k01.frame.filter(pl.col("level") == "werkstatt")
    (name, first), (_, second) = workshops.select("werkstatt_name", "werkstatt_nr").head(2).rows()
    renamed = k01.frame.with_columns(
        werkstatt_name=pl.when(pl.col("werkstatt_nr") == second)
        .then(pl.lit(name))
        .otherwise("werkstatt_name")
    )
    report = partner_report(lwl, "2024", [dataclasses.replace(k01, frame=renamed)], "2024")
    page = report.html.decode("utf-8")
    chart = re.search(r'<svg [^>]*aria-label="(Balkendiagramm[^"]*)"(.*?)</svg>', page, re.S)
    bars = re.search(r'<g class="mark-rect role-mark[^>]*>(.*?)</g>', chart.group(2), re.S).group(1)
    assert bars.count("<path") == workshops.filter(pl.col("value").is_not_null()).height
    for number in (first, second):
        assert f"{name} ({number}) " in chart.group(1), "the chart's text alternative"
        assert f">{name} ({number})<" in chart.group(2), "the axis label"
        assert f'<th scope="row">{name} ({number})</th>' in page, "the table row"


def test_a_long_bar_chart_is_drawn_in_parts_on_one_scale(demo_home):
    """A Landschaftsverband's ~50 workshops in one chart ran off the PDF's page: parts of at most
    BARS_PER_CHART bars, highest first, every row in one part, all on one scale."""
    import dataclasses

    import duckdb
    import polars as pl

    from publish.extracts import decide, partner_sheets
    from publish.reports import BARS_PER_CHART, partner_report
    from publish.step import partners_in_warehouse

    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        lwl = next(p for p in partners_in_warehouse(con) if p.id == "lwl")
        sheets = partner_sheets(decide(con), lwl, "2024")
    k01 = next(s for s in sheets if s.kpi == "k01")
    one = k01.frame.filter(pl.col("level") == "werkstatt").head(1)
    rows = 2 * BARS_PER_CHART + 3
    many = pl.concat(
        [
            one.with_columns(
                werkstatt_nr=pl.lit(f"LWL-9{i:03}"),
                werkstatt_name=pl.lit(f"Werkstatt {i}"),
                value=pl.lit(float(i)),
            )
            for i in range(1, rows + 1)
        ]
    )
    hidden = pl.concat([k01.suppressed.head(1)] * rows)
    report = partner_report(
        lwl, "2024", [dataclasses.replace(k01, frame=many, suppressed=hidden, keys=None)], "2024"
    )
    charts = re.findall(
        r'<svg [^>]*aria-label="(Balkendiagramm[^"]*)"(.*?)</svg>', report.html.decode(), re.S
    )
    assert len(charts) == 3
    described, scales = [], set()
    for number, (label, svg) in enumerate(charts, 1):
        assert f", Teil {number} von 3: " in label
        names = re.findall(r"(Werkstatt \d+) \d", label)
        bars = re.search(r'<g class="mark-rect role-mark[^>]*>(.*?)</g>', svg, re.S).group(1)
        assert bars.count("<path") == len(names) <= BARS_PER_CHART
        described += names
        ticks = re.findall(r'<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', svg, re.S)
        scales.add(tuple(re.findall(r">([^<]*)</text>", next(t for t in ticks if "Werkstatt" not in t))))
    assert described == [f"Werkstatt {i}" for i in range(rows, 0, -1)], "each row once, highest first"
    assert len(scales) == 1, "the same axis in every part"


def test_a_name_the_pdf_font_lacks_is_kept_in_the_html_and_marked_in_the_pdf(demo_home, caplog):
    """A register may name a workshop in any character (it arrives as UTF-8). A tagged PDF may not
    show a character its font lacks, and typst refused the whole report; the PDF now shows □ for
    it (an invisible one or a mark left out), the HTML page the name as sent, and the operator is
    told which."""
    import dataclasses
    import io

    import duckdb
    import polars as pl

    from publish.extracts import decide, partner_sheets
    from publish.reports import NO_GLYPH, partner_report
    from publish.step import partners_in_warehouse

    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        lwl = next(p for p in partners_in_warehouse(con) if p.id == "lwl")
        sheets = partner_sheets(decide(con), lwl, "2024")
    k01 = next(s for s in sheets if s.kpi == "k01")
    number = k01.frame.filter(pl.col("level") == "werkstatt")["werkstatt_nr"][0]
    name = "Werkstatt 😀\ufe0f 日本 \u2066Ölberg <b>fett</b>"
    renamed = k01.frame.with_columns(
        werkstatt_name=pl.when(pl.col("werkstatt_nr") == number)
        .then(pl.lit(name))
        .otherwise("werkstatt_name")
    )
    with caplog.at_level("WARNING", logger="publish.reports"):
        report = partner_report(lwl, "2024", [dataclasses.replace(k01, frame=renamed)], "2024")
    text = " ".join(
        " ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(report.pdf)).pages
    )
    assert f"Werkstatt {NO_GLYPH} {NO_GLYPH * 2} Ölberg <b>fett</b>" in text
    assert "Werkstatt 😀\ufe0f 日本 \u2066Ölberg &lt;b&gt;fett&lt;/b&gt;" in report.html.decode("utf-8")
    warned = [r.getMessage() for r in caplog.records if "no glyph" in r.getMessage()]
    assert len(warned) == 1 and warned[0].endswith(": U+2066, U+65E5, U+672C, U+FE0F, U+1F600"), warned


def test_a_note_on_several_rows_is_said_once_naming_them(demo_home):
    """K11's note where a Kreis's own Jobcenter sends nothing: in the report once, after the rows it
    is about, as the CSV has it on each of them."""
    latest = _latest(demo_home["root"], "nrw_inklusiv")
    rows = list(csv.DictReader((latest / "k11.csv").read_text("utf-8-sig").splitlines(), delimiter=";"))
    totals = [row for row in rows if row["Kreis"].endswith(" insgesamt")]
    assert any(row["Hinweis"].startswith("in ") for row in totals), "a total says how many of its Kreise"
    rows = [row for row in rows if row not in totals]
    own = "keine Daten vom Jobcenter des Kreises"  # beside it, a Kreis' own note (an overdue workshop)
    notes = {row["Hinweis"] for row in rows if row["Hinweis"].startswith(own)}
    assert len(notes) == 1, notes
    names = [row["Kreis"] for row in rows if row["Hinweis"].startswith(own)]
    assert len(names) > 1
    said = f"{', '.join(names[:-1])} und {names[-1]}: {notes.pop()}"
    assert _pdf_text(latest / "bericht.pdf").count(said) == 1, said


def test_a_table_longer_than_a_page_continues_on_the_next():
    """K14 of a Landschaftsverband has ~30 Kreise and its totals: a table the length of several
    pages goes on page after page, each row on a line of its own above the page's foot (a partners'
    review: the rows beyond the first page were set over the foot, one on the other)."""
    from publish.reports import COLOURS, render

    rows = [[f"Kreis Nummer {i:03d}", str(7 * i), str(3 * i)] for i in range(120)]
    table = {
        "caption": "Tabelle 1",
        "columns": ["Kreis", "A", "B"],
        "align": ["left", "right", "right"],
        "rows": rows,
    }
    section = {"heading": "K14", "intro": "", "charts": [], "notes": [], "questions": [], "tables": [table]}
    report = {"title": "Test", "subtitle": "", "author": "Test", "data_status": [], "symbols": [],
              "colours": COLOURS, "sections": [section]}  # fmt: skip
    pages = pypdf.PdfReader(io.BytesIO(render(report).pdf)).pages
    seen = []
    for page in pages:
        lines = _kreis_lines(page)
        assert len({y for y, _ in lines}) == len(lines), "each row on a line of its own"
        assert all(y > 1.6 / 2.54 * 72 for y, _ in lines), "above the page's bottom margin"
        seen += [text for _, text in lines]
    assert seen == [row[0] for row in rows] and len(pages) > 3


def test_a_table_row_is_never_split_across_pages():
    """A row whose reason takes several lines stays whole on one page (a partners' review found a
    workshop's reason begun at a page's foot and ended at the next page's head, under the header)."""
    from publish.reports import COLOURS, render

    words = " ".join(["Übergangsmeldung"] * 14)
    rows = [[f"Kreis Nummer {i:03d}", "x", f"Q{i:03d} {words} E{i:03d}"] for i in range(60)]
    table = {"caption": "Tabelle 1", "columns": ["Kreis", "A", "fehlt, weil"], "align": ["left", "right", "left"],
             "rows": rows}  # fmt: skip
    section = {"heading": "K02", "intro": "", "charts": [], "notes": [], "questions": [], "tables": [table]}
    report = {"title": "Test", "subtitle": "", "author": "Test", "data_status": [], "symbols": [],
              "colours": COLOURS, "sections": [section]}  # fmt: skip
    pages = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(render(report).pdf)).pages]
    assert len(pages) > 2
    for i in range(len(rows)):
        begins = [n for n, text in enumerate(pages) if f"Q{i:03d}" in text]
        ends = [n for n, text in enumerate(pages) if f"E{i:03d}" in text]
        assert len(begins) == 1 and begins == ends, f"row {i}: begins on page {begins}, ends on {ends}"


def test_a_short_table_and_its_heading_stay_on_one_page():
    """Wherever the page ends, a section without a chart keeps its heading with its table, and a
    table of three rows stays on one page (a partners' review: a heading alone at a page's foot, a
    table of three rows split one and two)."""
    from publish.reports import COLOURS, _kept_whole, render

    def table(caption: str, rows: list[list[str]]) -> dict:
        columns = ["Kreis", "A", "fehlt, weil"]
        return {"caption": caption, "columns": columns, "align": ["left", "right", "left"], "rows": rows,
                "keep": _kept_whole(columns, rows)}  # fmt: skip

    def section(heading: str, rows: list[list[str]]) -> dict:
        return {"heading": heading, "intro": "Worte.", "charts": [], "notes": [], "questions": [],
                "tables": [table(f"Tabelle {heading}", rows)]}  # fmt: skip

    short = [[f"Zeile S{i}", str(i), ""] for i in range(3)]
    for length in range(12, 32):
        long = [[f"Kreis Nummer {i:03d}", str(i), ""] for i in range(length)]
        report = {"title": "Test", "subtitle": "", "author": "Test", "data_status": [], "symbols": [],
                  "colours": COLOURS, "sections": [section("K13", long), section("K14 Regional", short)]}  # fmt: skip
        pages = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(render(report).pdf)).pages]
        holding = {
            n for n, text in enumerate(pages) for mark in ("K14 Regional", "S0", "S1", "S2") if mark in text
        }
        assert len(holding) == 1, f"after {length} rows: heading and rows on pages {sorted(holding)}"


def _kreis_lines(page) -> list[tuple[float, str]]:
    """The rows' names on a page, with the height of their line above the page's foot."""
    lines: list[tuple[float, str]] = []

    def visit(text, cm, tm, *_):
        if text.startswith("Kreis Nummer"):
            lines.append((tm[5] * cm[3] + cm[5], text.strip()))

    page.extract_text(visitor_text=visit)
    return lines


def test_a_comparison_not_shown_for_a_month_is_told_apart_from_a_missing_value():
    """A Jobcenter's history table: a month whose NRW total is not shown to it (with its own figures
    it would give another Jobcenter's away) read "x", and its reason was to be found in the CSV,
    which has no such row (a partners' review). It reads "–", said below; "x" is a missing value."""
    import polars as pl

    from publish.files import Sheet
    from publish.reports import NOT_SHOWN, _history_table

    frame = pl.DataFrame(
        {
            "level": ["jobcenter", "jobcenter", "nrw"],
            "jobcenter_name": ["Jobcenter Hagen", "Jobcenter Hagen", "NRW insgesamt"],
            "month": ["2024-11", "2024-12", "2024-12"],
            "any_target": [None, 12, 40],
        },
        schema_overrides={"any_target": pl.Int64},
    )
    sheet = Sheet(
        "k06", "K06", frame, frame.select(pl.repeat(False, frame.height).alias(c) for c in frame.columns)
    )
    table = _history_table(sheet)
    assert table["rows"] == [["2024-12", "12", "40"], ["2024-11", "x", NOT_SHOWN]]
    assert "„–“: nicht ausgewiesen" in table["caption"] and "„x“: kein Wert" in table["caption"]


def test_a_total_of_only_some_jobcenters_is_no_point_on_its_line():
    """NRW's K06 line fell by 30 % in months whose sum lacked a Jobcenter (its note says so), and
    read as a collapse (a partners' review): such a month is no point, said in the chart's text."""
    import polars as pl

    from publish.files import Sheet
    from publish.reports import INCOMPLETE, _trend_points

    frame = pl.DataFrame(
        {
            "level": ["jobcenter", "jobcenter", "nrw", "nrw"],
            "jobcenter_name": ["Jobcenter Hagen", "Jobcenter Hagen", "NRW insgesamt", "NRW insgesamt"],
            "month": ["2024-11", "2024-12", "2024-11", "2024-12"],
            "any_target": [10, 12, 40, 28],
            "note": [None, None, None, "every count: 1 of 3 parts without a value"],
        },
    )
    sheet = Sheet(
        "k06", "K06", frame, frame.select(pl.repeat(False, frame.height).alias(c) for c in frame.columns)
    )
    _, _, values, texts, header = _trend_points(sheet)
    assert values == [100.0, 120.0, 100.0, None], "an index; the incomplete sum is no point"
    assert texts[3] == INCOMPLETE and "Index (2024-11 = 100)" in header


def test_a_trend_begins_at_its_first_point_and_a_trend_of_none_is_left_out():
    """K07's first year has no rate (twelve months need thirteen): its months took half the chart
    as an empty axis (a partners' review). The axis begins at the first point; the text
    alternative still names every month and why it has none; no point at all: no chart."""
    import polars as pl

    from publish.files import Sheet
    from publish.reports import _charts

    months = [f"{year}-{month:02d}" for year in (2023, 2024) for month in (1, 2, 3)]
    rates = [None, None, None, 15.8, 16.2, None]
    frame = pl.DataFrame(
        {
            "level": ["jobcenter"] * 6,
            "jobcenter_name": ["Jobcenter Hagen"] * 6,
            "month": months,
            "value": rates,
            "missing_reason": ["needs 13 months of customer data"] * 3 + [None, None, "no data delivered"],
        },
        schema_overrides={"value": pl.Float64},
    )

    def sheet(frame: pl.DataFrame) -> Sheet:
        return Sheet(
            "k07", "K07", frame, frame.select(pl.repeat(False, frame.height).alias(c) for c in frame.columns)
        )

    (chart,) = _charts(sheet(frame))
    assert chart["caption"].endswith("2024-01 bis 2024-03"), chart["caption"]
    assert "01/2024" in chart["svg"] and "2023" not in chart["svg"], "no tick of the empty year"
    assert "2023-01" in chart["alt"] and "2024-03" in chart["alt"], "the text names every month"
    assert _charts(sheet(frame.with_columns(value=pl.lit(None, pl.Float64)))) == []


def test_a_bar_chart_with_no_value_to_draw_is_left_out(demo_home):
    """Every rate of a table missing or suppressed drew a chart of names with no bar (a partners'
    review: an empty K04 chart); the table alone says why."""
    import dataclasses

    import duckdb
    import polars as pl

    from publish.extracts import decide, partner_sheets
    from publish.reports import partner_report
    from publish.step import partners_in_warehouse

    with duckdb.connect(str(demo_home["root"] / "warehouse.duckdb"), read_only=True) as con:
        lwl = next(p for p in partners_in_warehouse(con) if p.id == "lwl")
        sheets = partner_sheets(decide(con), lwl, "2024")
    k04 = next(s for s in sheets if s.kpi == "k04")
    drawn = partner_report(lwl, "2024", [k04], "2024").html.decode()
    assert "Balkendiagramm Rückkehrquote" in drawn, "the demo's K04 has rates to draw"
    missing = k04.frame.with_columns(
        value=pl.lit(None, pl.Float64), missing_reason=pl.lit("no transitions in the year")
    )
    page = partner_report(
        lwl, "2024", [dataclasses.replace(k04, frame=missing, keys=None)], "2024"
    ).html.decode()
    assert "Balkendiagramm" not in page and "Rückkehrquote (%)" in page
