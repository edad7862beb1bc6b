"""The plain-DuckDB baseline: the same inbox read and turned into K01, K02, K06 and K07 with nothing
but DuckDB SQL — no orchestration, contracts, pseudonyms, history or publishing. It is the practical
lower bound on this machine that ``teilhabe bench`` compares the pipeline with.

It reads every file the pipeline reads: CSV with DuckDB's ``read_csv`` (Windows-1252 files decoded
to UTF-8 first, as DuckDB cannot), workbooks with the pipeline's calamine reader. Of several
deliveries for the same sender, part and period the last received wins, as in the pipeline.

    python -m teilhabe.bench.baseline INBOX [--database FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ingest.identify import identify
from ingest.issues import Issue
from ingest.readers import WORKBOOK_SHEETS, read_delivery, submit_workbook
from ingest.sniff import is_zip
from ingest.workbooks import WorkbookReader

WFBM_PARTS = ("personen", "aussenarbeitsplaetze", "uebergaenge")
JC_PARTS = ("bestand", "kunden", "massnahmen", "integrationen")
CP1252_GLOBS = ("wfbm_*.csv", "lv_*_werkstaetten.csv", "lv_*_budget_fuer_arbeit_*.csv")

KPI_SQL = """
create or replace macro stichtag(period) as last_day(cast(period || '-01' as date));
create or replace macro de_date(text) as cast(strptime(text, '%d.%m.%Y') as date);

-- the latest received delivery of each sender, part and period
create or replace temp view persons as
select werkstatt_nr, period, Personennummer as person, Bereich as area,
       de_date(Eintritt) as entry_date, de_date(Austritt) as exit_date
from wfbm_personen qualify received = max(received) over (partition by werkstatt_nr, period);

create or replace temp view placements as
select werkstatt_nr, period, Personennummer as person, Art as kind,
       de_date(Beginn) as start_date, de_date(Ende) as end_date
from wfbm_aussenarbeitsplaetze qualify received = max(received) over (partition by werkstatt_nr, period);

create or replace temp view transitions as
select distinct werkstatt_nr, Personennummer as person, de_date(Datum) as transition_date
from wfbm_uebergaenge qualify received = max(received) over (partition by werkstatt_nr, period);

create or replace temp view customers as
select jobcenter, period, kundennummer, try_cast(gdb as integer) as gdb, gleichstellung, rehabilitand
from jc_kunden qualify received = max(received) over (partition by jobcenter, period);

create or replace temp table stichtag_counts as
with in_work_area as (
    select distinct werkstatt_nr, period, person from persons
    where area = 'AB' and entry_date <= stichtag(period)
      and (exit_date is null or exit_date >= stichtag(period))
),
on_biap as (
    select distinct werkstatt_nr, period, person from placements
    where kind in ('BIAP', 'BIG') and start_date <= stichtag(period)
      and (end_date is null or end_date >= stichtag(period))
)
select a.werkstatt_nr, a.period, count(*) as ab_persons, count(b.person) as biap_persons
from in_work_area a left join on_biap b using (werkstatt_nr, period, person)
group by all;

create or replace table k01 as
with december as (
    select werkstatt_nr, left(werkstatt_nr, 3) as landschaftsverband,
           cast(left(period, 4) as integer) as year, biap_persons, ab_persons
    from stichtag_counts where right(period, 2) = '12' and ab_persons > 0
)
select werkstatt_nr, year, biap_persons as numerator, ab_persons as denominator,
       100.0 * biap_persons / ab_persons as value,
       rank() over (partition by landschaftsverband, year order by biap_persons / ab_persons desc) as rank
from december;

create or replace table k02 as
with counted as (
    select werkstatt_nr, year(transition_date) as year, count(*) as transitions
    from transitions group by all
)
select d.werkstatt_nr, cast(left(d.period, 4) as integer) + 1 as year,
       coalesce(t.transitions, 0) as numerator, d.ab_persons as denominator,
       100.0 * coalesce(t.transitions, 0) / d.ab_persons as value
from stichtag_counts d
left join counted t on t.werkstatt_nr = d.werkstatt_nr and t.year = cast(left(d.period, 4) as integer) + 1
where right(d.period, 2) = '12' and d.ab_persons > 0
  and cast(left(d.period, 4) as integer) < (select max(cast(left(period, 4) as integer)) from stichtag_counts);

create or replace table k06 as
select l.jobcenter, l.period as month,
       count(distinct c.kundennummer) filter (where c.gdb >= 50) as sb,
       count(distinct c.kundennummer) filter (where c.gdb in (30, 40) and c.gleichstellung = 'J') as gl,
       count(distinct c.kundennummer) filter (where c.rehabilitand = 'J') as rehabilitanden,
       count(distinct c.kundennummer) filter (
           where c.gdb >= 50 or (c.gdb in (30, 40) and c.gleichstellung = 'J') or c.rehabilitand = 'J'
       ) as any_target
from loaded_kunden l left join customers c using (jobcenter, period)
group by all;

create or replace table k07 as
with status as (
    select jobcenter, period, kundennummer,
           gdb >= 50 or (gdb in (30, 40) and gleichstellung = 'J') as sb_or_gl
    from customers
),
integration_months as (
    select distinct i.jobcenter, i.kundennummer, strftime(cast(i.datum as date), '%Y-%m') as period
    from jc_integrationen i
    qualify received = max(received) over (partition by i.jobcenter, i.file_period)
),
counted as (
    select m.jobcenter, m.period, count(*) as integrations
    from integration_months m
    left join status s using (jobcenter, period, kundennummer)
    left join status p on p.jobcenter = m.jobcenter and p.kundennummer = m.kundennummer
        and p.period = strftime(cast(m.period || '-01' as date) - interval 1 month, '%Y-%m')
    where coalesce(s.sb_or_gl, p.sb_or_gl, false)
    group by all
),
months as (
    select k.jobcenter, k.month, k.sb + k.gl as sb_gl, coalesce(c.integrations, 0) as integrations,
           cast(left(k.month, 4) as integer) * 12 + cast(right(k.month, 2) as integer) as idx
    from k06 k left join counted c on c.jobcenter = k.jobcenter and c.period = k.month
),
windows as (
    select jobcenter, month,
           count(*) over (partition by jobcenter order by idx range between 12 preceding and current row) as loaded,
           sum(integrations) over (partition by jobcenter order by idx range between 11 preceding and current row)
               as numerator,
           sum(sb_gl) over (partition by jobcenter order by idx range between 12 preceding and 1 preceding)
               as sb_gl_total
    from months
)
select jobcenter, month, numerator, sb_gl_total, 100.0 * numerator * 12 / sb_gl_total as value
from windows where loaded = 13;
"""


@dataclass
class BaselineResult:
    database: Path
    files: int = 0
    rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # read, kpis
    workbook_seconds: float = 0.0  # of read: the workbooks, through the pipeline's reader

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def _mtimes(paths: list[Path]) -> pl.DataFrame:
    return pl.DataFrame(
        {"file": [p.name for p in paths], "received": [p.stat().st_mtime_ns for p in paths]},
        schema={"file": pl.String, "received": pl.Int64},
    )


def _read_csvs(
    con: duckdb.DuckDBPyConnection, table: str, paths: list[Path], name_pattern: str, keys: tuple[str, str]
) -> None:
    """One ``read_csv`` over all files of a table with the same header (columns by position, the
    header sniffed once: ``union_by_name`` would sniff every file, ten times slower), the groups
    put together by name; sender and period from the file name."""
    if not paths:
        return
    sender, period = keys
    by_header: dict[bytes, list[str]] = {}
    for path in paths:
        with path.open("rb") as handle:
            by_header.setdefault(handle.readline().rstrip(b"\r\n"), []).append(str(path))
    con.register("_received", _mtimes(paths).to_arrow())
    for number, group in enumerate(by_header.values()):
        select = f"""
            select csv.* exclude (filename),
                   regexp_extract(parse_filename(filename), '{name_pattern}', 1) as {sender},
                   regexp_extract(parse_filename(filename), '{name_pattern}', 2) as {period},
                   r.received
            from read_csv(?, delim = ';', quote = '"', escape = '"', header = true, all_varchar = true,
                          filename = true) csv
            join _received r on r.file = parse_filename(csv.filename)
        """
        into = f"create table {table} as" if number == 0 else f"insert into {table} by name"
        con.execute(f"{into} {select}", [group])
    con.unregister("_received")


def _decoded(paths: list[Path], folder: Path) -> list[Path]:
    """Windows-1252 files as UTF-8 copies (DuckDB reads UTF-8 only), with their mtimes kept."""
    copies = []
    for path in paths:
        copy = folder / path.name
        copy.write_text(path.read_bytes().decode("cp1252"), encoding="utf-8")
        stat = path.stat()
        os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        copies.append(copy)
    return copies


def _read_workbooks(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> int:
    """Workshop workbooks and Leistungsdokumentation through the pipeline's calamine reader, opened
    by a worker per core (a worker started per workbook would cost more than reading it)."""
    frames: dict[str, list[pl.DataFrame]] = {}
    contents = [path.read_bytes() for path in paths]
    submitted = []
    with WorkbookReader(workers=len(os.sched_getaffinity(0))) as reader:
        for index, (path, content) in enumerate(zip(paths, contents, strict=True)):
            delivery = identify(path.name)
            if not isinstance(delivery, Issue) and delivery.format in WORKBOOK_SHEETS and is_zip(content):
                submit_workbook(reader, index, content, delivery.format)
                submitted.append(index)
        cells = {index: reader.result(index) for index in submitted}
    for index, path in enumerate(paths):
        result = read_delivery(path.name, contents[index], cells=cells.get(index))
        if result.rejected or not result.delivery:
            continue
        received = path.stat().st_mtime_ns
        for table, frame in result.tables.items():
            frames.setdefault(table, []).append(
                frame.drop("_file", "_row").with_columns(
                    pl.lit(result.delivery.sender).alias("werkstatt_nr"),
                    pl.lit(result.delivery.period).alias("period"),
                    pl.lit(received).alias("received"),
                )
            )
    rows = 0
    for table, parts in frames.items():
        frame = pl.concat(parts)
        rows += frame.height
        con.register("_frame", frame.to_arrow())
        exists = con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [table]
        ).fetchone()[0]
        if exists:
            con.execute(f"insert into {table} by name select * from _frame")
        else:
            con.execute(f"create table {table} as select * from _frame")
        con.unregister("_frame")
    return rows


def run_baseline(inbox: Path, database: Path) -> BaselineResult:
    database.unlink(missing_ok=True)
    result = BaselineResult(database)
    files = sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith("."))
    result.files = len(files)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="baseline-") as scratch, duckdb.connect(str(database)) as con:
        utf8 = _decoded([p for p in files if any(p.match(g) for g in CP1252_GLOBS)], Path(scratch))
        for part in WFBM_PARTS:
            _read_csvs(
                con,
                f"wfbm_{part}",
                [p for p in utf8 if p.name.startswith("wfbm_") and p.name.endswith(f"_{part}.csv")],
                r"^wfbm_(.+)_(\d{4}-\d{2})_",
                ("werkstatt_nr", "period"),
            )
        for part in JC_PARTS:
            _read_csvs(
                con,
                f"jc_{part}",
                [p for p in files if p.name.startswith("jc_") and p.name.endswith(f"_{part}.csv")],
                r"^jc_(\d{5})_(\d{6})_",
                ("jobcenter", "file_period"),
            )
            con.execute(
                f"alter table jc_{part} add column period varchar default null;"
                f"update jc_{part} set period = left(file_period, 4) || '-' || right(file_period, 2)"
            )
        for kind in ("werkstaetten", "budget_fuer_arbeit"):
            _read_csvs(
                con,
                f"lv_{kind}",
                [p for p in utf8 if p.name.startswith("lv_") and kind in p.name],
                r"^lv_(LWL|LVR)_()",
                ("landschaftsverband", "period"),
            )
        workbooks_started = time.perf_counter()
        _read_workbooks(con, [p for p in files if p.suffix == ".xlsx"])
        result.workbook_seconds = time.perf_counter() - workbooks_started
        loaded = [
            (p.name[3:8], f"{p.name[9:13]}-{p.name[13:15]}")
            for p in files
            if p.name.startswith("jc_") and p.name.endswith("_kunden.csv")
        ]
        con.execute("create table loaded_kunden (jobcenter varchar, period varchar)")
        if loaded:
            con.executemany("insert into loaded_kunden values (?, ?)", loaded)
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        result.rows = sum(
            con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables if t != "loaded_kunden"
        )
        result.seconds["read"] = time.perf_counter() - started
        started = time.perf_counter()
        con.execute(KPI_SQL)
        result.seconds["kpis"] = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m teilhabe.bench.baseline", description=__doc__.split("\n")[0]
    )
    parser.add_argument("inbox", type=Path)
    parser.add_argument("--database", type=Path, default=Path(tempfile.gettempdir()) / "baseline.duckdb")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = run_baseline(args.inbox, args.database)
    if args.json:
        figures = {
            "files": result.files,
            "rows": result.rows,
            "seconds": result.seconds,
            "workbook_seconds": result.workbook_seconds,
        }
        args.json.write_text(json.dumps(figures, indent=2))
    print(
        f"baseline: {result.files:,} files, {result.rows:,} rows; read {result.seconds['read']:.1f} s "
        f"(workbooks {result.workbook_seconds:.1f} s), "
        f"K01/K02/K06/K07 {result.seconds['kpis']:.1f} s; tables k01, k02, k06, k07 in {result.database}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
