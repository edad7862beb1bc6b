"""The outbox writer: deliveries that never half-happen and never change once made (issue: publish §5).

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

import csv
import hashlib
import io
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from publish.files import Sheet, csv_files, write_parquet, write_xlsx
from publish.partners import Partner
from publish.reports import REPORT_STEM, NotRendered, Report, partner_report
from teilhabe.disk import is_disk_full, storage_error
from teilhabe.settings import DBT_PROJECT_DIR, code_version

SUPPRESSION_RULE = (
    "privacy.md §3: counts 1-2 '*'; rates with denominator < 10 or a suppressed numerator '*' with "
    "their numerator; means over < 3 cases '*'; secondary suppression against Landschaftsverband and "
    "NRW totals until no suppressed value can be recomputed; decided once on the complete tables"
)


@dataclass(frozen=True)
class Outcome:
    partner: str
    period: str
    status: str  # delivered | unchanged | completed | blocked | failed | waiting | no_data
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


def _restatement_note(previous: dict, restates: tuple[str, ...], data_through: str) -> str:
    """Why a new version's figures differ from the one it replaces, as far as the manifests tell:
    later deliveries, changed definitions or a changed pipeline; else corrected deliveries."""
    why = []
    if previous.get("data_through") != data_through:
        why.append(f"deliveries up to {data_through} taken (before: up to {previous.get('data_through')})")
    if previous.get("kpi_definitions_version") != kpi_definitions_version():
        why.append("the KPI definitions (kpis.md) changed")
    if previous.get("code_version") != code_version():
        why.append(f"the pipeline changed ({previous.get('code_version')} -> {code_version()})")
    because = "; ".join(why) or "corrected or late deliveries for the period"
    return f"Replaces {previous['version']}: {', '.join(restates)} differ. Since then: {because}."


def edition(
    partner: Partner, period: str, csvs: dict[str, bytes], outbox: Path, data_through: str
) -> list[str]:
    """What the report and the workbook of a new version say about it, in German: which version it
    is, which one it replaces, which KPIs changed and why, as far as the manifests tell (a
    partners' review: v0002 looked exactly like v0001, only the manifest told, in English)."""
    from publish.expected import german_period
    from publish.labels import SHEET_NAMES

    newest, previous = _newest(outbox / partner.id / period)
    today = f"{datetime.now(UTC):%d.%m.%Y}"
    if previous is None:
        return [f"Fassung v0001 vom {today}: die erste für diesen Zeitraum."]
    version = f"v{int(newest.name[1:]) + 1:04d}"
    figures = _figures(csvs)[0]
    restates = [k for k in figures if previous["figures"].get(k) != figures[k]]
    since = datetime.fromisoformat(previous["generated_at"]).strftime("%d.%m.%Y")
    why = []
    if previous.get("data_through") != data_through:
        why.append(
            f"Lieferungen bis {german_period(data_through)} berücksichtigt "
            f"(vorher bis {german_period(previous.get('data_through') or '')})"
        )
    if previous.get("kpi_definitions_version") != kpi_definitions_version():
        why.append("die Definitionen der Kennzahlen wurden geändert")
    if previous.get("code_version") != code_version():
        why.append("die Verarbeitung im Teilhabe Warehouse wurde geändert")
    because = "; ".join(why) or "korrigierte oder verspätet eingegangene Lieferungen für den Zeitraum"
    changed = (
        ", ".join(
            SHEET_NAMES.get(k, k) + ("" if _numbers_differ(csvs[k], newest / f"{k}.csv") else TEXTS_ONLY)
            for k in restates
        )
        or "keine Kennzahl (nur Hinweise oder Zeichen)"
    )
    return [
        f"Fassung {version} vom {today}. Sie ersetzt die Fassung {previous['version']} vom {since}.",
        f"Geändert: {changed}. Grund: {because}.",
    ]


# A KPI whose new version differs from the last in its texts only (a partners' review read „Geändert:
# K06“ and found every figure as before: only a note's words had changed).
TEXTS_ONLY = " (nur Hinweise und Begründungen, keine Zahl)"
TEXT_COLUMNS = ("missing_reason", "note")


def _numbers_differ(new: bytes, previous: Path) -> bool:
    """Whether a KPI's CSV differs from the last version's in more than its texts (why a value is
    missing, notes); True where the last version has no such file."""
    if not previous.exists():
        return True
    from publish.labels import column

    texts = {column("", name).header for name in TEXT_COLUMNS}

    def without_texts(data: bytes) -> list[list[str]]:
        header, *rows = csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";")
        kept = [i for i, name in enumerate(header) if name not in texts]
        return [[row[i] for i in kept] for row in [header, *rows]]

    return without_texts(new) != without_texts(previous.read_bytes())


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


def _write(path: Path, data: bytes, delay: float = 0.0) -> None:
    """Write and sync one file (``delay``: Settings.publish_file_delay, for crash tests)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if delay:
        time.sleep(delay)


def _figures(csvs: dict[str, bytes]) -> tuple[dict[str, str], str]:
    """Each KPI's CSV checksum, and one over all of them: what a version's figures are."""
    figures = {kpi: _sha(data) for kpi, data in csvs.items()}
    return figures, _sha(json.dumps(figures, sort_keys=True).encode())


def _newest(folder: Path) -> tuple[Path | None, dict | None]:
    """The newest complete version of a partner's period and its manifest (None, None: none yet)."""
    versions = _versions(folder) if folder.exists() else []
    newest = versions[-1] if versions else None
    return newest, (json.loads((newest / "manifest.json").read_text("utf-8")) if newest else None)


def holds_figures(partner: Partner, period: str, csvs: dict[str, bytes], outbox: Path) -> bool:
    """Whether the partner's newest version of the period already holds these figures (``csvs``:
    publish/files.py ``csv_files``): then there is nothing to validate, render or write
    (``deliver`` at most finishes a switch of ``latest``)."""
    _, previous = _newest(outbox / partner.id / period)
    figures_sha = _figures(csvs)[1]
    return previous is not None and previous["figures_sha256"] == figures_sha


def validation_reports(outbox: Path) -> Path:
    """The internal folder of validation reports beside the outbox (never inside it)."""
    return outbox.parent / "reports" / "validation"


def deliver(
    partner: Partner,
    period: str,
    sheets: list[Sheet],
    outbox: Path,
    data_through: str,
    validate=None,
    file_delay: float = 0.0,
    linkage_quality: dict | None = None,
    data_status: list[str] | None = None,
    pages: Report | NotRendered | None = None,
    edition_lines: list[str] | None = None,
    csvs: dict[str, bytes] | None = None,
) -> Outcome:
    """Validate, then write a new version unless the newest one holds the same figures.
    ``linkage_quality``: the latest linkage run's measures (linkage.md §4), stated in the manifest;
    ``data_status``: the report's lines on missing and late files (publish/expected.py); ``pages``:
    the report, where it was rendered already (publish/reports.py ``ReportRendering``); a report
    that failed to render blocks the delivery, as failed validation does; ``csvs``: the sheets'
    CSVs where the caller made them already."""
    folder = outbox / partner.id / period
    csvs = csvs if csvs is not None else csv_files(sheets)
    figures, figures_sha = _figures(csvs)
    newest, previous = _newest(folder)
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
    if isinstance(pages, NotRendered):
        message = f"the report could not be rendered: {pages.reason}"
        return Outcome(partner.id, period, "blocked", None, message, figures_sha256=figures_sha)

    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(".v*.tmp-*"):  # a crashed attempt; never visible as a version
        shutil.rmtree(leftover, ignore_errors=True)
    version = f"v{(int(newest.name[1:]) if newest else 0) + 1:04d}"
    building = folder / f".{version}.tmp-{uuid.uuid4().hex[:8]}"
    building.mkdir()
    restates = tuple(k for k in figures if previous["figures"].get(k) != figures[k]) if previous else ()
    try:
        if edition_lines is None:
            edition_lines = edition(partner, period, csvs, outbox, data_through)
        files = _write_files(partner, period, sheets, csvs, building, file_delay, edition_lines)
        if pages is None:  # what a person reads
            pages = partner_report(partner, period, sheets, data_through, data_status, edition_lines)
        for suffix, data in (("html", pages.html), ("pdf", pages.pdf)):
            _write(building / f"{REPORT_STEM}.{suffix}", data, file_delay)
            files.append((f"{REPORT_STEM}.{suffix}", sum(s.frame.height for s in sheets)))
        if report is not None:
            _write(
                building / "validation.json",
                json.dumps(report.statement(), indent=2).encode("utf-8"),
                file_delay,
            )
            files.append(("validation.json", report.expectations))
        manifest = {
            "partner": partner.id,
            "partner_name": partner.name,
            "period": period,
            "version": version,
            "supersedes": newest.name if newest else None,
            "restates": list(restates),
            "restatement_note": _restatement_note(previous, restates, data_through) if restates else None,
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
            "linkage_quality": linkage_quality,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        manifest_bytes = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        _write(
            building / "manifest.json", manifest_bytes, file_delay
        )  # last: a version without it does not exist
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


def _write_files(
    partner: Partner,
    period: str,
    sheets: list[Sheet],
    csvs: dict,
    building: Path,
    delay: float,
    edition_lines: list[str],
) -> list:
    """The delivery's files in the partner's formats; (name, rows) of each."""
    files = []
    for sheet in sheets:
        rows = sheet.frame.height
        if "csv" in partner.formats:
            _write(building / f"{sheet.kpi}.csv", csvs[sheet.kpi], delay)
            files.append((f"{sheet.kpi}.csv", rows))
        if "parquet" in partner.formats:
            write_parquet(sheet, building / f"{sheet.kpi}.parquet")
            files.append((f"{sheet.kpi}.parquet", rows))
    if "xlsx" in partner.formats:
        stem = f"{partner.id}_{period}"
        write_xlsx(
            sheets,
            building / f"{stem}.xlsx",
            f"{partner.name}, {period}",
            edition_lines,
            with_parquet="parquet" in partner.formats,
        )
        files.append((f"{stem}.xlsx", sum(s.frame.height for s in sheets)))
    return files
