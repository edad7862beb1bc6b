"""``teilhabe simulate``: a complete, coherent inbox of agency exports, plus its ground truth.

Layout written:

``OUT/``               the inbox: every delivery as the agencies send it (file mtimes = arrival)
``OUT.truth/later/``   deliveries that arrive after a first pipeline run (same-name re-sends)
``OUT.truth/oracle/``  expected KPI values computed from the simulated world (kpis.md)
``OUT.truth/deliveries.csv``  every file: sender, part, period, arrival, kind, SHA-256, rows
``OUT.truth/defects.csv``     every injected fault: file, row, column, fault (with --defects)
``OUT.truth/identifiers.csv`` the plaintext identifiers in the inbox, for privacy scans in tests
``OUT.truth/identities.csv``  who each delivered person record is: source_table, sender, local_id, person_id
``OUT.truth/name_errors.csv`` each person record delivered with a name or birth-date error, and its kind
``OUT.truth/decoys.csv``      the near-twins: other people with a twin's birth date and a similar name
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from tqdm import tqdm

from ingest.formats import WFBM_CSV_COLUMNS
from teilhabe.simulate.calendar import month_label, month_of
from teilhabe.simulate.defects import DefectInjector
from teilhabe.simulate.oracle import KPI_FILES, Delivered, Oracle
from teilhabe.simulate.profiles import load_profile
from teilhabe.simulate.render import CsvFile, Rendered, Renderer, Sheet, XlsxFile
from teilhabe.simulate.world import World, build_world


@dataclass
class SimulationReport:
    inbox: Path
    truth: Path
    files: int = 0
    later: int = 0
    bytes: int = 0
    rows: int = 0
    defects: int = 0
    seconds: float = 0.0
    deliveries: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"simulated {self.files} files ({self.bytes / 1e6:.1f} MB, {self.rows:,} data rows)"
            f" into {self.inbox}\n"
            f"  {self.later} later re-deliveries in {self.truth / 'later'}; {self.defects} injected faults\n"
            f"  ground truth and KPI oracle in {self.truth}  ({self.seconds:.1f} s)"
        )


@dataclass(frozen=True)
class Scenario:
    """The special deliveries every simulation contains, chosen deterministically from the landscape."""

    missing_snapshot: tuple[str, int] | None  # (werkstatt_nr, month) whose personen file never comes
    duplicate_workbook: tuple[str, int] | None  # same bytes again under another free-text name
    corrected_workbook: tuple[str, int] | None  # first sent with a BiAp row missing, then corrected
    corrected_csv: tuple[str, int] | None  # personen re-sent under the same name (later wave)
    duplicate_csv: tuple[str, int] | None  # a Jobcenter file re-sent with identical bytes (later wave)
    silent_workshop: tuple[str, int] | None  # (werkstatt_nr, month recognised): registered, never sends

    @classmethod
    def plan(cls, world: World) -> Scenario:
        ws = world.workshops
        csv_lvr = ws.filter((pl.col("vendor") == "csv") & (pl.col("landschaftsverband") == "LVR"))[
            "werkstatt_nr"
        ]
        xlsx = ws.filter(pl.col("vendor") == "xlsx")["werkstatt_nr"]
        csv_all = ws.filter(pl.col("vendor") == "csv")["werkstatt_nr"]
        first, last = world.first_year, world.last_year
        xlsx_lvr = [nr for nr in xlsx if nr.startswith("LVR")]
        return cls(
            missing_snapshot=(csv_lvr[min(2, len(csv_lvr) - 1)], month_of(first, 12))
            if len(csv_lvr)
            else None,
            duplicate_workbook=(xlsx[0], month_of(last, 6)) if len(xlsx) else None,
            corrected_workbook=(xlsx_lvr[0], month_of(last, 12)) if xlsx_lvr else None,
            corrected_csv=(csv_all[0], month_of(last, 3)) if len(csv_all) else None,
            duplicate_csv=(world.profile.jobcenters[0].kreis, month_of(last, 6)),
            silent_workshop=(_next_number(ws["werkstatt_nr"], "LVR"), month_of(last, 10)),
        )


def _next_number(numbers: pl.Series, lv: str) -> str:
    """The next free Werkstatt-Nr. of a Landschaftsverband."""
    taken = [int(nr[4:]) for nr in numbers if nr.startswith(lv)]
    return f"{lv}-{max(taken, default=200) + 1:04d}"


def _add_silent_workshop(world: World, scenario: Scenario) -> None:
    """A workshop the LVR recognised in October of the last year (in its register from the start,
    with its recognition date) that has sent nothing yet: its files are overdue from November on,
    and it has no people. Its Kreis is that of the LVR's first workshop."""
    nr, month = scenario.silent_workshop
    first = world.workshops.filter(pl.col("landschaftsverband") == "LVR").row(0, named=True)
    year, mon = month_label(month).split("-")
    silent = {**first, "werkstatt_nr": nr, "name": "Werkstatt am Rheinufer", "traeger": "Rheinufer gGmbH",
              "places": 80, "vendor": "csv", "recognised": f"01.{mon}.{year}"}  # fmt: skip
    world.workshops = pl.concat(
        [world.workshops.with_columns(pl.lit("01.01.1998").alias("recognised")), pl.DataFrame([silent])],
        how="vertical_relaxed",
    )


def simulate(
    out: Path | str,
    profile: str = "demo",
    years: tuple[int, int] = (2023, 2024),
    seed: int = 7,
    defect_rate: float = 0.0,
    truth_dir: Path | str | None = None,
    progress: bool = True,
    name_error_rate: float = 0.05,
    decoy_share: float = 0.01,
) -> SimulationReport:
    """``name_error_rate``: the share of (person, agency source) whose records carry one error that
    normalisation does not remove (errors.py); ``decoy_share``: the share of people created as
    near-twins of another person (world.People)."""
    started = time.perf_counter()
    inbox = Path(out)
    truth = Path(truth_dir) if truth_dir else inbox.with_name(inbox.name + ".truth")
    inbox.mkdir(parents=True, exist_ok=True)
    if truth.exists():
        shutil.rmtree(truth)
    (truth / "later").mkdir(parents=True)
    (truth / "oracle").mkdir()

    world = build_world(load_profile(profile), years[0], years[1], seed, decoy_share)
    scenario = Scenario.plan(world)
    _add_silent_workshop(world, scenario)
    renderer = Renderer(world, seed, name_error_rate)
    injector = DefectInjector(np.random.default_rng(seed + 1), defect_rate)
    report = SimulationReport(inbox=inbox, truth=truth)
    writer = _Writer(inbox, truth / "later", report, injector)

    skip = (
        {(*scenario.missing_snapshot[:1], "personen", scenario.missing_snapshot[1])}
        if scenario.missing_snapshot
        else set()
    )
    silent = scenario.silent_workshop[0]
    months = range(world.first_month, world.last_month + 1)
    skip |= {(silent, part, m) for part in WFBM_CSV_COLUMNS for m in months}
    for rendered in renderer.register_files():
        writer.deliver(rendered)
    months = range(world.first_month, world.last_month + 1)
    for month in tqdm(months, desc="simulating months", unit="month", disable=not progress):
        for rendered in [*renderer.workshop_files(month, skip), *renderer.jobcenter_files(month)]:
            _deliver_with_scenario(writer, renderer, scenario, rendered, month)
    for rendered in renderer.bfa_files():
        writer.deliver(rendered)

    missing = frozenset([scenario.missing_snapshot] if scenario.missing_snapshot else [])
    oracle = Oracle(world, Delivered(missing_snapshots=missing, silent_workshops=frozenset([silent])))
    reported = leistungsdokumentation(oracle, world)
    for rendered in renderer.ld_files(reported):
        writer.deliver(rendered)
    # Later wave: the register re-sent after a change of recognised places.
    first_ws = world.workshops.filter(pl.col("landschaftsverband") == "LWL").row(0, named=True)
    for rendered in renderer.register_files({first_ws["werkstatt_nr"]: first_ws["places"] + 20}):
        if rendered.sender == "LWL":
            rendered.kind = "update"
            rendered.received = writer.after_everything()
            writer.deliver(rendered, later=True)

    for name, method in KPI_FILES.items():
        method(oracle).write_csv(truth / "oracle" / f"{name}.csv")
    oracle.k12(reported).write_csv(truth / "oracle" / "k12_abgleich_leistungsdokumentation.csv")
    reported.write_csv(truth / "oracle" / "leistungsdokumentation_reported.csv")
    writer.finish(truth)
    identities = renderer.delivered_people.frame()
    identities.write_csv(truth / "identities.csv")
    errors = _delivered_errors(renderer.name_errors, identities)
    errors.select(*IDENTITY_COLUMNS, "error", "field").write_csv(truth / "name_errors.csv")
    world.decoys.write_csv(truth / "decoys.csv")
    _write_identifiers(world, errors, truth / "identifiers.csv")
    (truth / "simulation.json").write_text(
        json.dumps(
            {
                "profile": profile,
                "years": list(years),
                "seed": seed,
                "defect_rate": defect_rate,
                "name_error_rate": name_error_rate,
                "decoy_share": decoy_share,
                "people": world.persons.height,
                "decoys": world.decoys.height,
                "person_records": identities.height,
                "person_records_with_errors": errors.height,
                "first_month": month_label(world.first_month),
                "last_month": month_label(world.last_month),
                "scenario": {
                    k: ([v[0], month_label(v[1])] if v else None) for k, v in scenario.__dict__.items()
                },
                "oracle_holds_for": "the inbox alone, and the inbox plus later/ (which changes no KPI"
                " input); not with injected faults, which quarantine rows; the cross-agency KPIs count"
                " people by their true identity (identities.csv), which a linkage must find despite"
                " the name errors and decoys",
            },
            indent=2,
        )
    )
    report.seconds = time.perf_counter() - started
    return report


def _deliver_with_scenario(
    writer: _Writer, renderer: Renderer, scenario: Scenario, rendered: Rendered, month: int
) -> None:
    key = (rendered.sender, month)
    if scenario.corrected_workbook == key and isinstance(rendered.file, XlsxFile):
        # First sent with one BiAp placement forgotten, corrected ten days later under a new name.
        original = XlsxFile(rendered.file.name, list(rendered.file.sheets))
        placements = original.sheets[1]
        drop = next(
            (
                i
                for i, r in enumerate(placements.rows)
                if r[1] in ("Einzelarbeitsplatz", "Gruppe") and not r[6]
            ),
            None,
        )
        if drop is not None:
            original.sheets[1] = Sheet(
                placements.title,
                placements.header,
                placements.rows[:drop] + placements.rows[drop + 1 :],
                placements.title_block,
            )
        writer.deliver(
            Rendered(
                original,
                rendered.source,
                rendered.sender,
                rendered.part,
                rendered.period,
                rendered.received,
                "corrected_original",
            )
        )
        fixed = XlsxFile(renderer.workbook_name(rendered.sender, month, " korrigiert"), rendered.file.sheets)
        writer.deliver(
            Rendered(
                fixed,
                rendered.source,
                rendered.sender,
                rendered.part,
                rendered.period,
                rendered.received + dt.timedelta(days=10),
                "correction",
            )
        )
        return
    if scenario.duplicate_workbook == key and isinstance(rendered.file, XlsxFile):
        content = writer.deliver(rendered, allow_defect=False)
        again = XlsxFile(renderer.workbook_name(rendered.sender, month, " (2)"), rendered.file.sheets)
        writer.deliver(
            Rendered(
                again,
                rendered.source,
                rendered.sender,
                rendered.part,
                rendered.period,
                rendered.received + dt.timedelta(days=2),
                "duplicate",
            ),
            content=content,
        )
        return
    if scenario.corrected_csv == key and rendered.part == "personen" and isinstance(rendered.file, CsvFile):
        # First sent with wrong weekly hours in three rows; the correction (same name) comes later.
        wrong = CsvFile(
            rendered.file.name, rendered.file.dialect, rendered.file.header, list(rendered.file.lines)
        )
        for i in range(min(3, len(wrong.lines))):
            fields = wrong.lines[i].split(";")
            fields[-1] = "12,5"
            wrong.lines[i] = ";".join(fields)
        writer.deliver(
            Rendered(
                wrong,
                rendered.source,
                rendered.sender,
                rendered.part,
                rendered.period,
                rendered.received,
                "corrected_original",
            ),
            allow_defect=False,
        )
        rendered.kind = "correction"
        rendered.received = writer.after_everything()
        writer.deliver(rendered, later=True)
        return
    if scenario.duplicate_csv == key and rendered.part == "kunden":
        content = writer.deliver(rendered, allow_defect=False)
        again = Rendered(
            rendered.file,
            rendered.source,
            rendered.sender,
            rendered.part,
            rendered.period,
            writer.after_everything(),
            "duplicate",
        )
        writer.deliver(again, later=True, content=content)
        return
    writer.deliver(rendered)


class _Writer:
    """Writes deliveries (with arrival time as mtime), injects faults, records the ground truth."""

    def __init__(self, inbox: Path, later: Path, report: SimulationReport, injector: DefectInjector) -> None:
        self.inbox, self.later, self.report, self.injector = inbox, later, report, injector
        self.rows: list[dict] = []

    def after_everything(self) -> dt.datetime:
        return dt.datetime(2100, 1, 1)  # replaced in finish() by "a week after the last delivery"

    def deliver(
        self, rendered: Rendered, later: bool = False, content: bytes | None = None, allow_defect: bool = True
    ) -> bytes:
        """Write one delivery; ``content`` forces the bytes (a duplicate of an earlier delivery)."""
        if content is None:
            file = rendered.file
            if allow_defect and not later and rendered.kind == "regular" and rendered.part != "werkstaetten":
                file = self.injector.maybe_inject(rendered)
            content = file if isinstance(file, bytes) else file.to_bytes()
        name = self.injector.renamed.get(rendered.file.name, rendered.file.name)
        path = (self.later if later else self.inbox) / name
        path.write_bytes(content)
        self.rows.append(
            {
                "file": name,
                "folder": "later" if later else "inbox",
                "source": rendered.source,
                "sender": rendered.sender,
                "part": rendered.part,
                "period": rendered.period,
                "received_at": rendered.received,
                "kind": rendered.kind,
                "sha256": hashlib.sha256(content).hexdigest(),
                "rows": rendered.file.rows,
                "bytes": len(content),
                "_path": path,
            }
        )
        self.report.files += not later
        self.report.later += later
        self.report.bytes += len(content)
        self.report.rows += rendered.file.rows
        return content

    def finish(self, truth: Path) -> None:
        last = max(r["received_at"] for r in self.rows if r["received_at"].year < 2100)
        for r in self.rows:
            if r["received_at"].year >= 2100:
                r["received_at"] = last + dt.timedelta(days=7)
            stamp = r["received_at"].replace(tzinfo=dt.UTC).timestamp()
            os.utime(r.pop("_path"), (stamp, stamp))
            r["received_at"] = r["received_at"].isoformat()
        with open(truth / "deliveries.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)
        self.injector.write(truth / "defects.csv")
        self.report.defects = len(self.injector.records)
        self.report.deliveries = self.rows


def leistungsdokumentation(oracle: Oracle, world: World) -> pl.DataFrame:
    """The figures the workshops reported to their Landschaftsverband: the true ones, except one
    workshop that reported a different BiAp figure in the last year and one missing from the first
    year's report (so K12 shows every status)."""
    truth = oracle.computed_ld().with_columns(pl.col("ab").fill_null(0), pl.col("biap").fill_null(0))
    # A workshop without a December snapshot still reported: its true figures are known to the world.
    lvr = sorted(n for n in world.workshops["werkstatt_nr"] if n.startswith("LVR"))
    deviating = lvr[3] if len(lvr) > 3 else None
    omitted = lvr[0] if lvr else None
    true_counts = _true_ab_biap(world)
    reported = truth.with_columns(
        pl.struct("werkstatt_nr", "year")
        .map_elements(lambda s: true_counts[(s["werkstatt_nr"], s["year"])][0], return_dtype=pl.Int64)
        .alias("ab"),
        pl.struct("werkstatt_nr", "year")
        .map_elements(lambda s: true_counts[(s["werkstatt_nr"], s["year"])][1], return_dtype=pl.Int64)
        .alias("biap"),
    )
    reported = reported.with_columns(
        pl.when((pl.col("werkstatt_nr") == deviating) & (pl.col("year") == world.last_year))
        .then(pl.col("biap") + 3)
        .otherwise(pl.col("biap"))
        .alias("biap")
    )
    reported = reported.filter(~((pl.col("werkstatt_nr") == omitted) & (pl.col("year") == world.first_year)))
    return reported.filter(~pl.col("werkstatt_nr").is_in(list(oracle.delivered.silent_workshops)))


def _true_ab_biap(world: World) -> dict[tuple[str, int], tuple[int, int]]:
    complete = Oracle(world, Delivered(missing_snapshots=frozenset(), silent_workshops=frozenset()))
    return {(nr, year): c for year in complete.years for nr, c in complete.ab_and_biap(year).items()}


IDENTITY_COLUMNS = ("source_table", "sender", "local_id", "person_id")
_TABLE_SOURCE = {"wfbm_personen": "wfbm", "jc_kunden": "jc", "lv_budget_fuer_arbeit": "lv"}


def _delivered_errors(name_errors: pl.DataFrame, identities: pl.DataFrame) -> pl.DataFrame:
    """The person records delivered with an error (identities joined with the renderer's errors)."""
    return (
        identities.with_columns(pl.col("source_table").replace_strict(_TABLE_SOURCE).alias("source"))
        .join(name_errors, on=["person_id", "source"])
        .sort(*IDENTITY_COLUMNS)
    )


def _write_identifiers(world: World, errors: pl.DataFrame, path: Path) -> None:
    """Every plaintext identifier in the inbox, so tests can prove none reaches the warehouse: every
    person's true name and birth date, and each erroneous one as written (before the agency's
    case, umlaut and blank conventions, like the true names)."""
    people = pl.concat(
        [world.persons, errors.unique(["nachname", "vorname", "geburtsdatum"], maintain_order=True)],
        how="diagonal",
    )
    people = people.select(
        pl.lit("person").alias("kind"),
        pl.col("nachname").alias("value"),
        pl.col("vorname").alias("value2"),
        pl.col("geburtsdatum").cast(pl.Date).cast(pl.String).alias("value3"),
    )
    ids = pl.concat(
        [
            world.memberships.select(
                pl.lit("personennummer").alias("kind"), pl.col("personennummer").alias("value")
            ).unique(maintain_order=True),
            world.jc_spells.select(
                pl.lit("kundennummer").alias("kind"), pl.col("kundennummer").alias("value")
            ),
            world.bfa_cases.select(
                pl.lit("aktenzeichen").alias("kind"), pl.col("aktenzeichen").alias("value")
            ),
        ]
    ).with_columns(pl.lit(None, pl.String).alias("value2"), pl.lit(None, pl.String).alias("value3"))
    pl.concat([people, ids]).write_csv(path)
