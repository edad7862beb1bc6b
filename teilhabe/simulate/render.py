"""From the world to files, byte for byte in the formats of spec/sources.md.

Every file of one month is rendered from the world in one vectorised pass per table (polars string
expressions build whole CSV lines); only the final split into files and the encoding is per file.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import xlsxwriter

from ingest.formats import (
    JC_COLUMNS,
    JC_CSV,
    LV_BFA_COLUMNS,
    LV_CSV,
    LV_LD_COLUMNS,
    LV_LD_SHEET,
    LV_REGISTER_COLUMNS,
    WFBM_CSV,
    WFBM_CSV_COLUMNS,
    XLSX_CODE_TEXTS,
    XLSX_HEADERS,
    XLSX_SHEETS,
    XLSX_TITLE,
    CsvDialect,
)
from teilhabe.simulate.calendar import (
    GERMAN_MONTHS,
    NEVER,
    day,
    month_first_day,
    month_label,
    month_last_day,
    to_date,
)
from teilhabe.simulate.errors import misspell_source
from teilhabe.simulate.names import employer_variant, spell
from teilhabe.simulate.world import World

EXCEL_EPOCH_OFFSET = 25569  # Excel serial of 1970-01-01
FIXED_WORKBOOK_TIME = dt.datetime(2000, 1, 1)  # same seed, same bytes: no wall-clock time in files

# How often each agency spells a name which way (styles of names.spell).
NAME_STYLES = {
    "wfbm": ([0, 3, 4], [0.85, 0.05, 0.10]),
    "jc": ([0, 1, 2, 3, 4], [0.45, 0.15, 0.30, 0.05, 0.05]),
    "lv": ([0, 1, 3, 4], [0.55, 0.30, 0.10, 0.05]),
}
EMPLOYER_STYLES = {
    "wfbm": ([0, 3, 4], [0.8, 0.1, 0.1]),
    "jc": ([0, 1, 2, 3], [0.5, 0.2, 0.2, 0.1]),
    "lv": ([0, 1, 3], [0.7, 0.1, 0.2]),
}


# --- files before they are bytes (so that faults can be injected into the structure) -------------


@dataclass
class CsvFile:
    name: str
    dialect: CsvDialect
    header: list[str]
    lines: list[str]  # rendered data lines without line end

    def to_bytes(self) -> bytes:
        text = self.dialect.line_end.join([";".join(self.header), *self.lines]) + self.dialect.line_end
        return text.encode(self.dialect.encoding)

    @property
    def rows(self) -> int:
        return len(self.lines)


@dataclass
class Sheet:
    title: str
    header: list[str]
    rows: list[list]  # values: str, float, int, or dt.date (written as Excel dates); None = empty
    title_block: list[list] = field(default_factory=list)  # rows above the header


@dataclass
class XlsxFile:
    name: str
    sheets: list[Sheet]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        book = xlsxwriter.Workbook(buffer, {"in_memory": True})
        book.set_properties({"created": FIXED_WORKBOOK_TIME})
        date_format = book.add_format({"num_format": "dd.mm.yyyy"})
        for sheet in self.sheets:
            ws = book.add_worksheet(sheet.title)
            r = 0
            for r, row in enumerate([*sheet.title_block, *([[]] if sheet.title_block else []), sheet.header]):
                _write_row(ws, r, row, date_format)
            for r2, row in enumerate(sheet.rows, start=r + 1):
                _write_row(ws, r2, row, date_format)
        book.close()
        return buffer.getvalue()

    @property
    def rows(self) -> int:
        return sum(len(sheet.rows) for sheet in self.sheets)


def _write_row(ws, r: int, row: list, date_format) -> None:
    for c, value in enumerate(row):
        if value is None or value == "":
            continue
        if isinstance(value, dt.date):
            ws.write_number(r, c, (value - dt.date(1970, 1, 1)).days + EXCEL_EPOCH_OFFSET, date_format)
        elif isinstance(value, (int, float)):
            ws.write_number(r, c, value)
        else:
            ws.write_string(r, c, value)


@dataclass
class Rendered:
    """One file as an agency would send it, with what the ground truth needs to know about it."""

    file: CsvFile | XlsxFile
    source: str  # wfbm | jc | lv
    sender: str
    part: str
    period: str  # JJJJ-MM, JJJJ, or "" (the register)
    received: dt.datetime
    kind: str = "regular"


class DeliveredPeople:
    """Who stands behind each person record delivered: (source table, sender as the pipeline stores
    it, the source's local id) -> person_id, collected while the files are rendered."""

    def __init__(self) -> None:
        self.parts: list[pl.DataFrame] = []

    def add(self, table: str, frame: pl.DataFrame, sender: str, local_id: str) -> None:
        self.parts.append(
            frame.select(
                pl.lit(table).alias("source_table"),
                pl.col(sender).alias("sender"),
                pl.col(local_id).alias("local_id"),
                pl.col("person_id"),
            ).unique()
        )

    def frame(self) -> pl.DataFrame:
        schema = {
            "source_table": pl.String,
            "sender": pl.String,
            "local_id": pl.String,
            "person_id": pl.Int64,
        }
        if not self.parts:
            return pl.DataFrame(schema=schema)
        return (
            pl.concat([p.cast(schema) for p in self.parts])
            .unique()
            .sort("source_table", "sender", "local_id")
        )


# --- spelling -----------------------------------------------------------------------------------


def _pick_styles(ids: np.ndarray, salt: int, styles: tuple[list[int], list[float]]) -> np.ndarray:
    """A fixed style per id and agency (an agency does not change its spelling month to month)."""
    values, weights = styles
    u = ((ids.astype(np.uint64) * np.uint64(2654435761) + np.uint64(salt)) % np.uint64(2**32)) / 2**32
    return np.asarray(values)[np.searchsorted(np.cumsum(weights), u, side="right").clip(0, len(values) - 1)]


NAME_ERROR_SCHEMA = {
    "person_id": pl.Int64,
    "source": pl.String,
    "error": pl.String,
    "field": pl.String,
    "nachname": pl.String,
    "vorname": pl.String,
    "geburtsdatum": pl.Int64,
}


def spelled_people(
    world: World, name_error_rate: float = 0.0, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each person as each agency source writes them (``<column>_<source>``), and the records that carry
    an error (errors.py; NAME_ERROR_SCHEMA, the names before the agency's spelling style)."""
    persons = world.persons
    ids = persons["person_id"].to_numpy()
    true_dob = persons["geburtsdatum"].to_numpy()
    sex = persons["geschlecht"].to_numpy()
    names = {col: persons[col].to_list() for col in ("nachname", "vorname")}
    columns = {"person_id": ids}
    errors = []
    for salt, source in enumerate(NAME_STYLES, start=11):
        wrong = misspell_source(ids, names, true_dob, sex, source, name_error_rate, seed)
        styles = _pick_styles(ids, salt, NAME_STYLES[source])
        cache: dict[tuple[str, int], str] = {}
        for col in ("nachname", "vorname"):
            values = list(names[col])
            for i, m in wrong.items():
                values[i] = getattr(m, col)
            columns[f"{col}_{source}"] = [
                cache.setdefault((v, int(s)), spell(v, int(s))) for v, s in zip(values, styles, strict=True)
            ]
        dob = true_dob.copy()
        for i, m in wrong.items():
            dob[i] = m.geburtsdatum
        columns[f"geburtsdatum_{source}"] = dob
        errors += [
            (int(ids[i]), source, m.error, m.field, m.nachname, m.vorname, m.geburtsdatum)
            for i, m in wrong.items()
        ]
    columns["geburtsdatum"] = true_dob
    columns["geschlecht"] = sex
    return pl.DataFrame(columns), pl.DataFrame(errors, schema=NAME_ERROR_SCHEMA, orient="row")


def spelled_employers(world: World) -> pl.DataFrame:
    employers = world.employers
    ids = employers["employer_id"].to_numpy()
    columns = {"employer_id": ids, "plz": employers["plz"], "wz": employers["wz"]}
    for salt, source in enumerate(EMPLOYER_STYLES, start=31):
        styles = _pick_styles(ids, salt, EMPLOYER_STYLES[source])
        columns[f"name_{source}"] = [
            employer_variant(n, int(s)) for n, s in zip(employers["name"], styles, strict=True)
        ]
    return pl.DataFrame(columns)


# --- expressions for German and ISO CSV fields ---------------------------------------------------


def _date(col: str | pl.Expr, dialect: CsvDialect, shown: pl.Expr | None = None) -> pl.Expr:
    expr = pl.col(col) if isinstance(col, str) else col
    text = expr.cast(pl.Date).dt.strftime(dialect.date_format)
    cond = expr != NEVER if shown is None else (expr != NEVER) & shown
    return pl.when(cond).then(text).otherwise(pl.lit(""))


def _decimal(col: str, dialect: CsvDialect, places: int) -> pl.Expr:
    scaled = (pl.col(col) * 10**places).round().cast(pl.Int64)
    whole = (scaled // 10**places).cast(pl.String)
    frac = (scaled % 10**places).cast(pl.String).str.zfill(places)
    return whole + pl.lit(dialect.decimal) + frac


def _quoted(expr: pl.Expr) -> pl.Expr:
    """CSV quoting where needed: a field holding the separator or a quote is quoted, quotes doubled."""
    return (
        pl.when(expr.str.contains('[;"]'))
        .then(pl.lit('"') + expr.str.replace_all('"', '""', literal=True) + pl.lit('"'))
        .otherwise(expr)
    )


def _lines(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.Series:
    return frame.select(
        pl.concat_str([_quoted(pl.col(c).fill_null("")) for c in columns], separator=";").alias("line")
    )["line"]


def _split_files(frame: pl.DataFrame, key: str) -> dict[str, list[str]]:
    if frame.is_empty():
        return {}
    return {
        k: group["line"].to_list()
        for (k,), group in frame.select(key, "line")
        .partition_by(key, as_dict=True, maintain_order=True)
        .items()
    }


# --- the renderer -------------------------------------------------------------------------------


class Renderer:
    def __init__(self, world: World, seed: int, name_error_rate: float = 0.0) -> None:
        self.world = world
        self.seed = seed
        self.people, self.name_errors = spelled_people(world, name_error_rate, seed)
        self.delivered_people = DeliveredPeople()
        self.employers = spelled_employers(world)
        self.vendor = dict(world.workshops.select("werkstatt_nr", "vendor").iter_rows())
        self.csv_workshops = [nr for nr, vendor in self.vendor.items() if vendor == "csv"]
        self.ws_name = dict(world.workshops.select("werkstatt_nr", "name").iter_rows())
        self.ws_index = {nr: i for i, nr in enumerate(world.workshops["werkstatt_nr"], start=1)}
        members = world.memberships.join(self.people, on="person_id")
        self.members = members
        self.placements = world.placements.join(self.employers, on="employer_id")
        self.transitions = world.transitions.join(self.employers, on="employer_id").with_columns(
            (
                pl.col("datum").cast(pl.Date).dt.year() * 12
                + pl.col("datum").cast(pl.Date).dt.month()
                - 1
                - 1970 * 12
            )
            .cast(pl.Int64)
            .alias("datum_month"),
            pl.when(pl.col("rueckkehr") == NEVER)
            .then(pl.lit(-1, pl.Int64))
            .otherwise(
                pl.col("rueckkehr").cast(pl.Date).dt.year() * 12
                + pl.col("rueckkehr").cast(pl.Date).dt.month()
                - 1
                - 1970 * 12
            )
            .cast(pl.Int64)
            .alias("rueckkehr_month"),
        )
        self.jc_months = world.jc_customer_months.join(self.people.drop("geschlecht"), on="person_id")
        self.measures = world.jc_measures.join(
            self.employers.select("employer_id", "name_jc", "plz"), on="employer_id", how="left"
        )
        self.integrations = world.jc_integrations.join(self.employers, on="employer_id")

    def received(self, month: int, sender: str, part: str = "") -> dt.datetime:
        """When a monthly delivery arrives: between the 3rd and 14th of the next month."""
        h = (hash_text(f"{sender}|{part}|{month}") + self.seed) % 1_000_000
        first = to_date(int(month_first_day(month + 1)))
        return dt.datetime.combine(first, dt.time(8)) + dt.timedelta(days=2 + h % 12, minutes=h % 480)

    # W-CSV and W-XLSX ---------------------------------------------------------------------------

    def workshop_tables(self, month: int) -> dict[str, pl.DataFrame]:
        """The three tables of every workshop for one month, with W-CSV texts."""
        first, last = int(month_first_day(month)), int(month_last_day(month))
        d = WFBM_CSV
        on = pl.min_horizontal("austritt", pl.lit(last))
        persons = (
            self.members.filter((pl.col("eintritt") <= last) & (pl.col("austritt") >= first))
            .with_columns(
                pl.when(on <= pl.col("ev_end"))
                .then(pl.lit("EV"))
                .when(on <= pl.col("bbb_end"))
                .then(pl.lit("BBB"))
                .otherwise(pl.lit("AB"))
                .alias("Bereich")
            )
            .with_columns(
                pl.col("personennummer").alias("Personennummer"),
                pl.col("nachname_wfbm").alias("Nachname"),
                pl.col("vorname_wfbm").alias("Vorname"),
                _date("geburtsdatum_wfbm", d).alias("Geburtsdatum"),
                pl.col("geschlecht").alias("Geschlecht"),
                pl.col("plz").alias("PLZ"),
                pl.col("wohnort_kreis").alias("Wohnort_Kreis"),
                _date("eintritt", d).alias("Eintritt"),
                _date("austritt", d, pl.col("austritt") <= last).alias("Austritt"),
                pl.when(pl.col("austritt") <= last)
                .then("grund")
                .otherwise(pl.lit(""))
                .alias("Austrittsgrund"),
                pl.col("behinderungsart").alias("Behinderungsart"),
                pl.when(pl.col("Bereich") == "AB")
                .then("kostentraeger_ab")
                .otherwise("kostentraeger_bbb")
                .alias("Kostentraeger"),
                _decimal("arbeitszeit", d, 1).alias("Arbeitszeit_Std"),
            )
            .sort("werkstatt_nr", "personennummer")
        )
        placements = (
            self.placements.filter((pl.col("beginn") <= last) & (pl.col("ende") >= first))
            .with_columns(
                pl.col("personennummer").alias("Personennummer"),
                pl.col("art").alias("Art"),
                pl.col("name_wfbm").alias("Betrieb"),
                pl.col("plz").alias("Betrieb_PLZ"),
                pl.col("wz").alias("Branche_WZ"),
                _date("beginn", d).alias("Beginn"),
                _date("ende", d, pl.col("ende") <= last).alias("Ende"),
                _decimal("std_woche", d, 1).alias("Std_Woche"),
                pl.col("jobcoach").alias("Jobcoach"),
            )
            .sort("werkstatt_nr", "personennummer", "beginn")
        )
        # A transition is sent in the month of its Datum, and again when its Rueckkehr is known.
        transitions = (
            self.transitions.filter((pl.col("datum_month") == month) | (pl.col("rueckkehr_month") == month))
            .with_columns(
                pl.col("personennummer").alias("Personennummer"),
                _date("datum", d).alias("Datum"),
                pl.col("art").alias("Art"),
                pl.col("name_wfbm").alias("Arbeitgeber"),
                pl.col("plz").alias("Arbeitgeber_PLZ"),
                pl.col("wz").alias("Branche_WZ"),
                _date("rueckkehr", d, pl.col("rueckkehr") <= last).alias("Rueckkehr"),
            )
            .sort("werkstatt_nr", "datum", "personennummer")
        )
        return {"personen": persons, "aussenarbeitsplaetze": placements, "uebergaenge": transitions}

    def workshop_files(self, month: int, skip: set[tuple[str, str, int]]) -> Iterator[Rendered]:
        tables = self.workshop_tables(month)
        label = month_label(month)
        year, mon = label.split("-")
        never_sent = [nr for nr, part, m in skip if m == month and part in ("personen", "workbook")]
        self.delivered_people.add(
            "wfbm_personen",
            tables["personen"].filter(~pl.col("werkstatt_nr").is_in(never_sent)),
            "werkstatt_nr",
            "personennummer",
        )
        csv_lines = {}
        for part, frame in tables.items():
            csv = frame.filter(pl.col("werkstatt_nr").is_in(self.csv_workshops))
            csv_lines[part] = _split_files(
                csv.with_columns(_lines(csv, WFBM_CSV_COLUMNS[part])), "werkstatt_nr"
            )
        for nr in self.world.workshops["werkstatt_nr"]:
            if self.vendor[nr] == "csv":
                for part in WFBM_CSV_COLUMNS:
                    if (nr, part, month) in skip:
                        continue
                    file = CsvFile(
                        f"wfbm_{nr}_{label}_{part}.csv",
                        WFBM_CSV,
                        list(WFBM_CSV_COLUMNS[part]),
                        csv_lines[part].get(nr, []),
                    )
                    yield Rendered(file, "wfbm", nr, part, label, self.received(month, nr, part))
            elif (nr, "workbook", month) not in skip:
                sheets = [
                    self._xlsx_sheet(tables[part].filter(pl.col("werkstatt_nr") == nr), part, nr, month)
                    for part in XLSX_SHEETS
                ]
                name = self.workbook_name(nr, month)
                yield Rendered(
                    XlsxFile(name, sheets), "wfbm", nr, "workbook", f"{year}-{mon}", self.received(month, nr)
                )

    def workbook_name(self, nr: str, month: int, suffix: str = "") -> str:
        """Free text, as each workshop's staff happen to name it (the title block is what counts)."""
        label = month_label(month)
        year, mon = label.split("-")
        german = GERMAN_MONTHS[int(mon) - 1]
        style = self.ws_index[nr] % 3
        name = self.ws_name[nr]
        if style == 0:
            base = f"{name} - Meldung {german} {year}"
        elif style == 1:
            base = f"Meldung {mon}-{year} {name}"
        else:
            base = f"{nr} Werkstattmeldung {year}_{mon}"
        return f"{base}{suffix}.xlsx"

    def _xlsx_sheet(self, frame: pl.DataFrame, part: str, nr: str, month: int) -> Sheet:
        headers = XLSX_HEADERS[part]
        texts = {
            col: {code: text for text, code in mapping.items()}
            for col, mapping in XLSX_CODE_TEXTS[part].items()
        }
        date_cols = {"Geburtsdatum", "Eintritt", "Austritt", "Beginn", "Ende", "Datum", "Rueckkehr"}
        number_cols = {"PLZ", "Wohnort_Kreis", "Betrieb_PLZ", "Arbeitgeber_PLZ"}
        hour_cols = {"Arbeitszeit_Std", "Std_Woche"}
        columns = []
        for csv_col in headers.values():
            series = frame[csv_col].to_list() if csv_col in frame.columns else []
            if csv_col in texts:
                series = [texts[csv_col].get(v, v) if v else None for v in series]
            elif csv_col in date_cols:
                series = [dt.datetime.strptime(v, "%d.%m.%Y").date() if v else None for v in series]
            elif csv_col in number_cols:
                series = [int(v) if v else None for v in series]  # Excel keeps numbers: leading zero lost
            elif csv_col in hour_cols:
                series = [float(v.replace(",", ".")) if v else None for v in series]
            columns.append(series)
        rows = [list(r) for r in zip(*columns, strict=True)] if columns and columns[0] else []
        stichtag = to_date(int(month_last_day(month)))
        block = [[XLSX_TITLE], ["Werkstatt-Nr.:", nr], ["Stichtag:", stichtag]]
        return Sheet(XLSX_SHEETS[part], list(headers), rows, block)

    # JC ---------------------------------------------------------------------------------------

    def jobcenter_files(self, month: int) -> Iterator[Rendered]:
        first, last = int(month_first_day(month)), int(month_last_day(month))
        d = JC_CSV
        label = month_label(month)
        stamp = label.replace("-", "")
        kunden = (
            self.jc_months.filter((pl.col("month") == month) & pl.col("in_target_group"))
            .with_columns(
                pl.col("nachname_jc").alias("nachname"),
                pl.col("vorname_jc").alias("vorname"),
                _date("geburtsdatum_jc", d).alias("geburtsdatum"),
                pl.when(pl.col("gdb") > 0)
                .then(pl.col("gdb").cast(pl.String))
                .otherwise(pl.lit(""))
                .alias("gdb"),
                _date("start", d).alias("elb_seit"),
            )
            .sort("jobcenter", "kundennummer")
        )
        measures = (
            self.measures.filter((pl.col("eintritt") <= last) & (pl.col("austritt") >= first))
            .with_columns(
                _date("eintritt", d).alias("eintritt_t"),
                _date("austritt", d, pl.col("austritt") <= last).alias("austritt_t"),
                pl.col("name_jc").fill_null("").alias("arbeitgeber"),
                pl.col("plz").fill_null("").alias("arbeitgeber_plz"),
                pl.when(pl.col("austritt") <= last).then("abbruch").otherwise(pl.lit("N")).alias("abbruch"),
            )
            .drop("eintritt", "austritt")
            .rename({"eintritt_t": "eintritt", "austritt_t": "austritt"})
            .sort("jobcenter", "kundennummer", "eintritt")
        )
        integrations = (
            self.integrations.filter(pl.col("datum").is_between(first, last))
            .with_columns(
                _date("datum", d).alias("datum"),
                pl.col("name_jc").alias("arbeitgeber"),
                pl.col("plz").alias("arbeitgeber_plz"),
                pl.col("wz").alias("branche_wz"),
            )
            .sort("jobcenter", "datum", "kundennummer")
        )
        self.delivered_people.add("jc_kunden", kunden, "jobcenter", "kundennummer")
        bestand = self.world.jc_bestand.filter(pl.col("month") == month).with_columns(
            pl.lit(label).alias("monat"), pl.col("elb").cast(pl.String), pl.col("arbeitslose").cast(pl.String)
        )
        tables = {"bestand": bestand, "kunden": kunden, "massnahmen": measures, "integrationen": integrations}
        split = {
            part: _split_files(f.with_columns(_lines(f, JC_COLUMNS[part])), "jobcenter")
            for part, f in tables.items()
        }
        for jc in self.world.profile.jobcenters:
            for part in JC_COLUMNS:
                file = CsvFile(
                    f"jc_{jc.kreis}_{stamp}_{part}.csv",
                    JC_CSV,
                    list(JC_COLUMNS[part]),
                    split[part].get(jc.kreis, []),
                )
                yield Rendered(file, "jc", jc.kreis, part, label, self.received(month, jc.kreis, part))

    # LV ---------------------------------------------------------------------------------------

    def register_files(self, changed_places: dict[str, int] | None = None) -> Iterator[Rendered]:
        ws = self.world.workshops
        for lv in ("LWL", "LVR"):
            rows = ws.filter(pl.col("landschaftsverband") == lv).sort("werkstatt_nr")
            lines = []
            for i, r in enumerate(rows.iter_rows(named=True)):
                places = (changed_places or {}).get(r["werkstatt_nr"], r["places"])
                fields = [
                    r["werkstatt_nr"],
                    r["name"],
                    r["traeger"],
                    f"Werkstraße {i + 3}",
                    r["plz"],
                    r["ort"],
                    r["kreis"],
                    str(places),
                    r.get("recognised") or "01.01.1998",
                ]
                lines.append(";".join(_quote_py(f) for f in fields))
            when = dt.datetime.combine(to_date(day(dt.date(self.world.first_year, 1, 1)) - 20), dt.time(9))
            yield Rendered(
                CsvFile(f"lv_{lv}_werkstaetten.csv", LV_CSV, list(LV_REGISTER_COLUMNS), lines),
                "lv",
                lv,
                "werkstaetten",
                "",
                when,
            )

    def bfa_files(self) -> Iterator[Rendered]:
        d = LV_CSV
        cases = self.world.bfa_cases.join(self.people, on="person_id").join(self.employers, on="employer_id")
        for year in range(self.world.first_year, self.world.last_year + 1):
            jan1, dec31 = day(dt.date(year, 1, 1)), day(dt.date(year, 12, 31))
            delivered = day(dt.date(year + 1, 1, 31))
            touching = cases.filter(
                (pl.col("beginn") <= dec31)
                & ((pl.col("ende") >= jan1) | pl.col("abgelehnt"))
                & ~(pl.col("abgelehnt") & (pl.col("beginn") < jan1))
            )
            status = (
                pl.when(pl.col("abgelehnt"))
                .then(pl.lit("abgelehnt"))
                .when(pl.col("ende") <= delivered)
                .then(pl.lit("beendet"))
                .when((pl.col("beginn") >= dec31 - 60) & (pl.col("subsidy_cents") % 5 == 0))
                .then(pl.lit("bewilligt"))
                .otherwise(pl.lit("laufend"))
            )
            frame = touching.with_columns(
                pl.col("aktenzeichen").alias("Aktenzeichen"),
                pl.col("nachname_lv").alias("Nachname"),
                pl.col("vorname_lv").alias("Vorname"),
                _date("geburtsdatum_lv", d).alias("Geburtsdatum"),
                pl.col("herkunft").alias("Herkunft Werkstatt-Nr."),
                pl.col("name_lv").alias("Arbeitgeber"),
                pl.col("plz").alias("Arbeitgeber PLZ"),
                _date("beginn", d).alias("Beginn"),
                _date("ende", d, (pl.col("ende") <= delivered) & ~pl.col("abgelehnt")).alias("Ende"),
                _decimal_cents("subsidy_cents", d).alias("Lohnkostenzuschuss EUR/Monat"),
                status.alias("Status"),
            ).sort("aktenzeichen")
            self.delivered_people.add("lv_budget_fuer_arbeit", frame, "lv", "aktenzeichen")
            split = _split_files(frame.with_columns(_lines(frame, LV_BFA_COLUMNS)), "lv")
            for lv in ("LWL", "LVR"):
                file = CsvFile(
                    f"lv_{lv}_budget_fuer_arbeit_{year}.csv", LV_CSV, list(LV_BFA_COLUMNS), split.get(lv, [])
                )
                when = dt.datetime.combine(to_date(delivered), dt.time(10))
                yield Rendered(file, "lv", lv, "budget_fuer_arbeit", str(year), when)

    def ld_files(self, reported: pl.DataFrame) -> Iterator[Rendered]:
        """The Leistungsdokumentation: the figures each workshop reported to its Landschaftsverband."""
        places = dict(self.world.workshops.select("werkstatt_nr", "places").iter_rows())
        for (lv, year), group in (
            reported.sort("werkstatt_nr").partition_by(["landschaftsverband", "year"], as_dict=True).items()
        ):
            rows = [
                [
                    r["werkstatt_nr"],
                    self.ws_name[r["werkstatt_nr"]],
                    r["ab"],
                    r["biap"],
                    r["transitions"],
                    r["bfa"],
                    places[r["werkstatt_nr"]],
                ]
                for r in group.iter_rows(named=True)
            ]
            sheet = Sheet(LV_LD_SHEET, list(LV_LD_COLUMNS), rows)
            when = dt.datetime.combine(dt.date(year + 1, 2, 15), dt.time(11))
            yield Rendered(
                XlsxFile(f"lv_{lv}_leistungsdokumentation_{year}.xlsx", [sheet]),
                "lv",
                lv,
                "leistungsdokumentation",
                str(year),
                when,
            )


def _decimal_cents(col: str, dialect: CsvDialect) -> pl.Expr:
    return (
        (pl.col(col) // 100).cast(pl.String)
        + pl.lit(dialect.decimal)
        + (pl.col(col) % 100).cast(pl.String).str.zfill(2)
    )


def _quote_py(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if (";" in text or '"' in text) else text


def hash_text(text: str) -> int:
    """A stable hash (Python's hash() of str changes per process)."""
    value = 2166136261
    for byte in text.encode():
        value = ((value ^ byte) * 16777619) % 2**32
    return value
