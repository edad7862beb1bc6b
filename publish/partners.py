"""Partners as configuration (partners.yaml): who receives which KPIs for which scope, in which
formats, when. A wrong entry is refused at load with a message naming the partner and the field."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from teilhabe.reference import nrw_kreise
from teilhabe.settings import REPO_ROOT

PARTNERS_FILE = REPO_ROOT / "partners.yaml"
KPI_IDS = tuple(f"k{n:02d}" for n in range(1, 15))
FORMATS = ("csv", "xlsx", "parquet")
PERIODS = ("month", "quarter", "year")
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)


class PartnerConfigError(ValueError):
    """partners.yaml says something that cannot be delivered."""


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    landschaftsverband: str | None  # scope: a Landschaftsverband's workshops and Kreise, or
    kreise: tuple[str, ...]  # scope: these Kreise (a Jobcenter: its own), or
    statewide: bool  # scope: all of NRW
    kpis: tuple[str, ...]
    formats: tuple[str, ...]
    schedule: str
    period: str
    target: str
    template_id: str | None = None  # the partners.yaml entry this partner was made from (a template)
    history_months: int = 0  # monthly KPIs over this many months up to the period (0: the period's)

    def scope_kreise(self) -> tuple[str, ...]:
        """The Kreise whose rows this partner may see."""
        kreise = nrw_kreise()
        if self.statewide:
            return tuple(kreise["kreisschluessel"])
        if self.landschaftsverband:
            return tuple(
                kreise.filter(kreise["landschaftsverband"] == self.landschaftsverband)["kreisschluessel"]
            )
        return self.kreise


def check_cron(expression: str) -> str | None:
    """None if the five-field cron expression is valid, else what is wrong with it."""
    fields = expression.split()
    if len(fields) != 5:
        return f"a cron schedule has 5 fields (minute hour day-of-month month day-of-week), not {len(fields)}"
    for text, (name, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            match = re.fullmatch(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?", part)
            if not match:
                return f"{name} field {text!r} is not a number, range, list or step"
            numbers = [int(g) for g in match.groups()[:2] if g and g != "*"]
            if any(not low <= n <= high for n in numbers):
                return f"{name} field {text!r} is outside {low}-{high}"
    return None


def _refuse(where: str, message: str) -> PartnerConfigError:
    return PartnerConfigError(f"{PARTNERS_FILE.name}: partner {where}: {message}")


def _partner(entry: dict, where: str) -> Partner:
    known = {"id", "name", "scope", "kpis", "formats", "schedule", "period", "target"}
    if unknown := set(entry) - known - {"history_months"}:
        raise _refuse(where, f"unknown field(s) {', '.join(sorted(unknown))}")
    history = entry.get("history_months", 0)
    if not isinstance(history, int) or isinstance(history, bool) or not 0 <= history <= 60:
        raise _refuse(where, f"history_months {history!r} is not a number of months from 0 to 60")
    for field in known:
        if field not in entry:
            raise _refuse(where, f"field {field!r} missing")
    kpis = tuple(str(k).lower() for k in entry["kpis"])
    if bad := [k for k in kpis if k not in KPI_IDS]:
        raise _refuse(where, f"unknown KPI {', '.join(bad)} (known: k01 ... k14)")
    formats = tuple(entry["formats"])
    if bad := [f for f in formats if f not in FORMATS]:
        raise _refuse(where, f"unknown format {', '.join(bad)} (known: {', '.join(FORMATS)})")
    if entry["period"] not in PERIODS:
        raise _refuse(where, f"period {entry['period']!r} is not one of {', '.join(PERIODS)}")
    if problem := check_cron(str(entry["schedule"])):
        raise _refuse(where, f"schedule {entry['schedule']!r}: {problem}")
    scope = entry["scope"] or {}
    all_kreise = set(nrw_kreise()["kreisschluessel"])
    lv, kreise, statewide = (
        scope.get("landschaftsverband"),
        tuple(scope.get("kreise") or ()),
        bool(scope.get("statewide")),
    )
    if sum([lv is not None, bool(kreise), statewide]) != 1:
        raise _refuse(where, "scope must be exactly one of landschaftsverband, kreise, statewide")
    if lv is not None and lv not in ("LWL", "LVR"):
        raise _refuse(where, f"unknown Landschaftsverband {lv!r} (LWL or LVR)")
    if bad := [k for k in kreise if k not in all_kreise]:
        raise _refuse(where, f"unknown Kreisschlüssel {', '.join(bad)} (not in the NRW reference)")
    return Partner(
        id=str(entry["id"]), name=str(entry["name"]), landschaftsverband=lv, kreise=kreise, statewide=statewide,
        kpis=kpis, formats=formats, schedule=str(entry["schedule"]), period=entry["period"], target=str(entry["target"]),
        history_months=history,
    )  # fmt: skip


def config_document(path: Path, error: type[ValueError], listing: str) -> dict:
    """A configuration file (partners.yaml, senders.yaml) as data, or ``error`` naming the file and
    line (a syntax error was a 76-line traceback that named neither, an operator's review)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise error(f"{path.name}{where}: not valid YAML ({getattr(problem, 'problem', problem)})") from None
    if not isinstance(document, dict):
        raise error(f"{path.name}: not a mapping with a list '{listing}'")
    return document


def load_partners(path: Path = PARTNERS_FILE, jobcenters: list[str] | None = None) -> list[Partner]:
    """The partners, with ``template: each_jobcenter`` expanded for the given Jobcenters (their
    Kreisschlüssel; default: every NRW Kreis). Ids must be unique."""
    document = config_document(path, PartnerConfigError, "partners")
    names = dict(nrw_kreise().select("kreisschluessel", "name").iter_rows())
    partners: list[Partner] = []
    for number, entry in enumerate(document.get("partners") or [], start=1):
        where = str(entry.get("id", f"#{number}"))
        template = entry.pop("template", None) if isinstance(entry, dict) else None
        if template is None:
            partners.append(_partner(entry, where))
        elif template == "each_jobcenter":
            for kreis in jobcenters if jobcenters is not None else sorted(names):
                filled = {
                    k: (v.format(kreisschluessel=kreis, kreis_name=names[kreis]) if isinstance(v, str) else v)
                    for k, v in entry.items()
                }
                made = _partner({**filled, "scope": {"kreise": [kreis]}}, filled.get("id", where))
                partners.append(replace(made, template_id=str(entry.get("id"))))
        else:
            raise _refuse(where, f"unknown template {template!r} (known: each_jobcenter)")
    ids = [p.id for p in partners]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise PartnerConfigError(f"{PARTNERS_FILE.name}: partner ids used twice: {', '.join(duplicates)}")
    return partners
