"""Deliveries that never half-happen and never change once made (issue: publish §5).

    outbox/<partner>/<period>/v0001/    k01.csv ... <partner>_<period>.xlsx, k01.parquet ...,
                                        validation.json (which checks passed), manifest.json
    outbox/<partner>/<period>/latest -> v0001
    reports/validation/<partner>/<period>.html   internal: what Great Expectations checked

A version is written in a hidden temporary folder, its manifest last, and moved into place with
one rename; then ``latest`` is switched by renaming a new symlink over it. A crash leaves either
the previous ``latest`` or the new complete version; the next run finishes the switch. A re-issue
whose figures equal the newest version creates nothing; changed figures become a new version whose
manifest names what it restates. Every outcome is logged in ops.extract_log.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from teilhabe.disk import is_disk_full, storage_error
from teilhabe.publish.extracts import partner_sheets, remember_suppressed
from teilhabe.publish.extracts import period_kind as period_kind_of
from teilhabe.publish.files import Sheet, csv_bytes, write_parquet, write_xlsx
from teilhabe.publish.partners import Partner, load_partners
from teilhabe.publish.readiness import readiness
from teilhabe.settings import DBT_PROJECT_DIR, REPO_ROOT

SUPPRESSION_RULE = (
    "privacy.md §3: counts 1-2 '*'; rates with denominator < 10 or a suppressed numerator '*' with "
    "their numerator; means over < 3 cases '*'; secondary suppression against Landschaftsverband and "
    "NRW totals until no suppressed value can be recomputed; decided once on the complete tables"
)
FILE_DELAY_ENV = "TEILHABE_PUBLISH_FILE_DELAY"  # seconds between files: lets crash tests kill mid-write
LOG_DDL = """
create schema if not exists ops;
create table if not exists ops.extract_log (
    partner varchar, period varchar, version varchar, status varchar, files integer,
    figures_sha256 varchar, manifest_sha256 varchar, supersedes varchar, restates varchar,
    message varchar, logged_at timestamp
)"""


@dataclass(frozen=True)
class Outcome:
    partner: str
    period: str
    status: str  # delivered | unchanged | completed | blocked | waiting | no_data
    version: str | None
    message: str
    files: int = 0
    figures_sha256: str | None = None
    manifest_sha256: str | None = None
    supersedes: str | None = None
    restates: tuple[str, ...] = ()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def kpi_definitions_version() -> str:
    """Changes whenever a KPI model or its documentation changes."""
    digest = hashlib.sha256()
    for path in sorted((DBT_PROJECT_DIR / "models" / "kpi").glob("*")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def code_version() -> str:
    head = REPO_ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (REPO_ROOT / ".git" / ref[5:]).read_text().strip()[:12]
        return ref[:12]
    except OSError:
        return "unknown"


def _versions(folder: Path) -> list[Path]:
    """Complete versions (their manifest exists), oldest first."""
    return sorted(p for p in folder.glob("v[0-9][0-9][0-9][0-9]") if (p / "manifest.json").exists())


def _switch_latest(folder: Path, version: Path) -> None:
    link = folder / "latest"
    if link.is_symlink() and os.readlink(link) == version.name:
        return
    temporary = folder / f".latest-{uuid.uuid4().hex}"
    temporary.symlink_to(version.name)
    os.replace(temporary, link)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if delay := float(os.environ.get(FILE_DELAY_ENV, "0") or 0):
        time.sleep(delay)


def validation_reports(outbox: Path) -> Path:
    """The internal folder of validation reports beside the outbox (never inside it)."""
    return outbox.parent / "reports" / "validation"


def deliver(
    partner: Partner, period: str, sheets: list[Sheet], outbox: Path, data_through: str, validate=None
) -> Outcome:
    """Validate, then write a new version unless the newest one holds the same figures."""
    folder = outbox / partner.id / period
    csvs = {sheet.kpi: csv_bytes(sheet) for sheet in sheets}
    figures = {kpi: _sha(data) for kpi, data in csvs.items()}
    figures_sha = _sha(json.dumps(figures, sort_keys=True).encode())
    versions = _versions(folder) if folder.exists() else []
    newest = versions[-1] if versions else None
    previous = json.loads((newest / "manifest.json").read_text("utf-8")) if newest else None
    if previous and previous["figures_sha256"] == figures_sha:
        completed = not ((folder / "latest").is_symlink() and os.readlink(folder / "latest") == newest.name)
        _switch_latest(folder, newest)
        status = "completed" if completed else "unchanged"
        message = (
            "latest switched to the complete version" if completed else "figures unchanged, no new version"
        )
        return Outcome(partner.id, period, status, newest.name, message, figures_sha256=figures_sha)

    report = validate(sheets, partner, period, validation_reports(outbox)) if validate else None
    if report is not None and not report.success:
        return Outcome(partner.id, period, "blocked", None, report.summary(), figures_sha256=figures_sha)

    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(".v*.tmp-*"):  # a crashed attempt; never visible as a version
        shutil.rmtree(leftover, ignore_errors=True)
    version = f"v{(int(newest.name[1:]) if newest else 0) + 1:04d}"
    building = folder / f".{version}.tmp-{uuid.uuid4().hex[:8]}"
    building.mkdir()
    restates = tuple(k for k in figures if previous["figures"].get(k) != figures[k]) if previous else ()
    try:
        files = _write_files(partner, period, sheets, csvs, building)
        if report is not None:
            _write(building / "validation.json", json.dumps(report.statement(), indent=2).encode("utf-8"))
            files.append(("validation.json", report.expectations))
        manifest = {
            "partner": partner.id,
            "partner_name": partner.name,
            "period": period,
            "version": version,
            "supersedes": newest.name if newest else None,
            "restates": list(restates),
            "restatement_note": (
                f"Replaces {newest.name}: corrected deliveries changed {', '.join(restates)}."
                if restates
                else None
            ),
            "data_through": data_through,
            "kpis": list(partner.kpis),
            "files": [
                {"name": name, "sha256": _sha((building / name).read_bytes()), "rows": rows}
                for name, rows in files
            ],
            "figures": figures,
            "figures_sha256": figures_sha,
            "suppression_rule": SUPPRESSION_RULE,
            "kpi_definitions_version": kpi_definitions_version(),
            "code_version": code_version(),
            "validation": report.summary() if report else "not validated",
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        manifest_bytes = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        _write(building / "manifest.json", manifest_bytes)  # last: a version without it does not exist
        _fsync_dir(building)
        os.rename(building, folder / version)
    except BaseException as error:
        shutil.rmtree(building, ignore_errors=True)  # never a half-written version left behind
        if isinstance(error, Exception) and is_disk_full(error):
            raise storage_error(f"the extract for {partner.id} {period}", building, error) from error
        raise
    _fsync_dir(folder)
    _switch_latest(folder, folder / version)
    return Outcome(
        partner.id, period, "delivered", version,
        f"{len(files)} files" + (f", restates {', '.join(restates)}" if restates else ""),
        len(files), figures_sha, _sha(manifest_bytes), newest.name if newest else None, restates,
    )  # fmt: skip


def _write_files(partner: Partner, period: str, sheets: list[Sheet], csvs: dict, building: Path) -> list:
    """The delivery's files in the partner's formats; (name, rows) of each."""
    files = []
    for sheet in sheets:
        rows = sheet.frame.height
        if "csv" in partner.formats:
            _write(building / f"{sheet.kpi}.csv", csvs[sheet.kpi])
            files.append((f"{sheet.kpi}.csv", rows))
        if "parquet" in partner.formats:
            write_parquet(sheet, building / f"{sheet.kpi}.parquet")
            files.append((f"{sheet.kpi}.parquet", rows))
    if "xlsx" in partner.formats:
        stem = f"{partner.id}_{period}"
        write_xlsx(sheets, building / f"{stem}.xlsx", f"{partner.name}, {period}")
        files.append((f"{stem}.xlsx", sum(s.frame.height for s in sheets)))
    return files


def partners_in_warehouse(con: duckdb.DuckDBPyConnection) -> list[Partner]:
    """partners.yaml with its Jobcenter template expanded for the Jobcenters in the warehouse."""
    jobcenters = [
        row[0] for row in con.execute("select jobcenter from marts.dim_jobcenters order by 1").fetchall()
    ]
    return load_partners(jobcenters=jobcenters)


def publish(
    con: duckdb.DuckDBPyConnection,
    outbox: Path,
    partner_ids: list[str] | None = None,
    period_kind: str | None = None,
    period: str | None = None,
    validate: bool = True,
    today: date | None = None,
) -> list[Outcome]:
    """Deliver the chosen partners' extracts (default: all; or those of one period kind) for
    ``period`` (default: each one's latest complete period, teilhabe/publish/readiness.py).
    Suppression is decided once for all of them; each outcome is logged in ops.extract_log."""
    from teilhabe.publish.extracts import decide

    partners = partners_in_warehouse(con)
    if partner_ids:
        if unknown := set(partner_ids) - {p.id for p in partners}:
            raise ValueError(f"unknown partner(s) {', '.join(sorted(unknown))} (see partners.yaml)")
        partners = [p for p in partners if p.id in partner_ids]
        if period and (wrong := [p for p in partners if p.period != period_kind_of(period)]):
            raise ValueError(mismatch(wrong[0], period))
    if period_kind:
        partners = [p for p in partners if p.period == period_kind]
    decision = decide(con)
    deliveries = con.execute("select * from marts.fct_monthly_deliveries").pl()
    outcomes, planned = [], []
    for partner in partners:
        ready = readiness(deliveries, partner, today or date.today())
        chosen = period or ready.period
        if chosen is None:
            outcomes.append(
                Outcome(partner.id, "-", "no_data", None, ready.waiting or "no complete period yet")
            )
            continue
        if period and ready.period and chosen > ready.period and period_kind_of(chosen) == partner.period:
            # A period asked for by name whose inputs are not in: nothing shows 0 for missing data.
            outcomes.append(
                Outcome(partner.id, chosen, "waiting", None, ready.waiting or "its data is not complete")
            )
            continue
        if period is None and (waiting := _waiting_for(con, partner, chosen)):
            outcomes.append(Outcome(partner.id, chosen, "waiting", None, waiting))
            continue
        sheets = partner_sheets(decision, partner, chosen)
        if not any(s.frame.height for s in sheets):
            outcomes.append(Outcome(partner.id, chosen, "no_data", None, "no rows in the partner's scope"))
            continue
        planned.append((partner, chosen, sheets, ready))
    validator = None
    if validate:
        from teilhabe.publish.validation import validate_delivery, validate_together

        passed = validate_together([(p, c, s) for p, c, s, _ in planned], validation_reports(outbox))

        def validator(sheets, partner, chosen, reports):
            return passed.get(partner.id) or validate_delivery(sheets, partner, chosen, reports)

    held: list = []
    for partner, chosen, sheets, ready in planned:
        outcome = deliver(partner, chosen, sheets, outbox, ready.through or chosen, validator)
        if outcome.status in ("delivered", "unchanged", "completed"):  # what the partner holds
            held += sheets
        if ready.waiting and period is None:
            outcome = replace(outcome, message=f"{outcome.message}; {ready.waiting}")
        outcomes.append(outcome)
    remember_suppressed(con, decision, held)
    con.execute(LOG_DDL)
    now = datetime.now(UTC).replace(tzinfo=None)
    logged = [o for o in outcomes if o.status != "no_data"]
    con.executemany(
        "insert into ops.extract_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (o.partner, o.period, o.version, o.status, o.files, o.figures_sha256, o.manifest_sha256,
             o.supersedes, ",".join(o.restates) or None, o.message, now)
            for o in logged
        ],
    ) if logged else None  # fmt: skip
    return outcomes


def _waiting_for(con: duckdb.DuckDBPyConnection, partner: Partner, period: str) -> str | None:
    """A Landschaftsverband's annual report waits for its Leistungsdokumentation of the year (K12
    compares with it); a re-issue asked for by name is made regardless."""
    if "k12" not in partner.kpis or not partner.landschaftsverband or period_kind_of(period) != "year":
        return None
    arrived = con.execute(
        "select count(*) from marts.fct_reported_figures where landschaftsverband = ? and year = ?",
        [partner.landschaftsverband, int(period)],
    ).fetchone()[0]
    return (
        None if arrived else f"waiting for the {partner.landschaftsverband} Leistungsdokumentation {period}"
    )


def mismatch(partner: Partner, period: str) -> str:
    return (
        f"partner {partner.id} receives {partner.period}ly extracts, not a {period_kind_of(period)} "
        f"({period}); see partners.yaml"
    )
