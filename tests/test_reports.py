"""The report a person reads, in every delivery (issue 16): in German, as PDF and accessible HTML,
built from the same suppressed tables as the CSV files. Checked on the demo run: the PDF's text holds
every row of figures exactly as the CSV does; a suppressed value is "*" and gets no bar; the HTML
has a language, headings, table headers with scope, text alternatives that carry the figures, and
no external URL."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pypdf
import pytest

from publish.extracts import EXTRACTS
from publish.labels import column

PARTNERS = ("lwl", "lvr", "nrw_inklusiv", "jobcenter_05112", "jobcenter_05513", "jobcenter_05914")
# a row's name in the report: its name, else its key (K05's Kreis "unbekannt"), else whose row it is
NAMES = ("Werkstatt", "Kreis", "Jobcenter", "Werkstatt-Nr.", "Kreisschlüssel", "Jobcenter (Kreisschlüssel)",
         "Landschaftsverband")  # fmt: skip


def _latest(home: Path, partner: str) -> Path:
    return next((home / "outbox" / partner).iterdir()) / "latest"


def _pdf_text(path: Path) -> str:
    """The PDF's text with whitespace collapsed (a name wrapped in its cell at a hyphen joined again)."""
    text = " ".join(" ".join(page.extract_text().split()) for page in pypdf.PdfReader(path).pages)
    return re.sub(r"(?<=\w)- (?=\w)", "-", text)


def _figure_rows(path: Path) -> list[str]:
    """Each CSV row as the report's table shows it: the row's name, then its figures."""
    kpi = path.stem
    extract = EXTRACTS[kpi]
    figures = [column(kpi, c).header for c in (*extract.counts, *extract.rates, *extract.means)]
    rows = []
    for row in csv.DictReader(path.read_text("utf-8-sig").splitlines(), delimiter=";"):
        name = next(row[h] for h in NAMES if row.get(h))
        if kpi == "k12":
            name = f"{name}: {row['Merkmal']}"
        first = list(row).index(figures[0])
        cells = [row[h] for h in list(row)[first:] if h not in ("vorläufig", "fehlt, weil", "Hinweis")]
        rows.append(" ".join([name, *cells]))
    return rows


def test_the_pdf_shows_every_figure_as_the_csv_does(demo_home):
    home = demo_home["root"]
    checked = 0
    for partner in PARTNERS:
        latest = _latest(home, partner)
        text = _pdf_text(latest / "bericht.pdf")
        assert text.startswith("Kennzahlen für"), text[:200]
        for path in sorted(latest.glob("k*.csv")):
            for row in _figure_rows(path):
                assert row in text, f"{partner} {path.name}: {row!r} not in the PDF"
                checked += 1
    assert checked > 50
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
    lwl = (_latest(home, "lwl") / "bericht.html").read_text("utf-8")
    assert "Emscher-Werkstatt 19,79, Rang 1" in lwl, "the chart's text alternative carries the figures"


def test_a_suppressed_value_gets_no_bar(demo_home):
    """A chart never shows a suppressed value, not even as a bar of length 0: one bar per shown value."""
    home = demo_home["root"]
    charts = 0
    for partner in PARTNERS:
        page = (_latest(home, partner) / "bericht.html").read_text("utf-8")
        for svg in re.findall(r"<svg .*?</svg>", page, re.S):
            label = re.search(r'aria-label="([^"]*)"', svg).group(1)
            described = label.split(": ", 1)[1].rstrip(".").split("; ")
            shown = [d for d in described if not d.endswith(("(*)", "(x)"))]
            bars = re.search(r'<g class="mark-rect role-mark[^>]*>(.*?)</g>', svg, re.S)
            assert (bars.group(1).count("<path") if bars else 0) == len(shown), (partner, label)
            charts += 1
            charts_with_star = any(d.endswith("(*)") for d in described)
            if charts_with_star:
                assert "gesperrt (*)" in label
    assert charts >= 5


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
