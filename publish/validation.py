"""Great Expectations 1.x checks of every extract before it leaves: only documented columns, numbers
where figures are, rates within their range, no count of 1 or 2, only the partner's scope, only the
requested period. GX runs on the DataFrames themselves (through SQLAlchemy on DuckDB it fails,
see ECOSYSTEM.md).

Validation reports are internal (privacy.md §4): one small HTML page per partner and period in
``<home>/reports/validation/`` (GX's Data Docs load jQuery and Bootstrap from CDNs and render
unexpected values; ours opens offline and shows none). A delivery carries only ``validation.json``:
which checks passed.

GX is imported here only, lazily: its import costs 3-6 s that no other command should pay. A run
that publishes later imports it while it waits for dbt (``import_in_background``).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import polars as pl

from publish.extracts import EXTRACTS, PEER_GROUP
from publish.labels import described
from publish.periods import shown_months
from teilhabe.settings import quiet_telemetry

NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "Int64", "Int32", "float64", "Float64"]


@dataclass(frozen=True)
class Check:
    """One expectation's outcome, never a value: which KPI, which check, which column."""

    kpi: str
    expectation: str
    column: str | None
    passed: bool
    unexpected: int = 0  # how many values broke it (internal report only)


@dataclass(frozen=True)
class ValidationReport:
    success: bool
    checks: tuple[Check, ...]
    report: Path  # the internal HTML report in the data home
    together_with: int = 1  # partners validated in the same run (validate_together)

    @property
    def expectations(self) -> int:
        return len(self.checks)

    @property
    def findings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def summary(self) -> str:
        if self.success:
            shared = (
                f" (validated together with {_others(self.together_with)})" if self.together_with > 1 else ""
            )
            return f"{self.expectations} expectations met{shared}"
        failed = "; ".join(
            f"{f.kpi} {f.expectation}"
            + (f"({f.column})" if f.column else "")
            + f": {f.unexpected} unexpected"
            for f in self.findings
        )
        return f"{len(self.findings)} of {self.expectations} expectations failed: {failed}"

    def statement(self) -> dict:
        """What a delivery says about its checks (validation.json): which passed, no values, no
        other partner."""
        return {
            "validated_with": "Great Expectations",
            "success": self.success,
            "expectations": self.expectations,
            "passed": sum(c.passed for c in self.checks),
            "checks": [
                {"kpi": c.kpi, "check": c.expectation, "column": c.column, "passed": c.passed}
                for c in self.checks
            ],
        }


def _others(together: int) -> str:
    return f"{together - 1} other partner{'s' if together > 2 else ''}"


def _suite(gx, name: str, kpi: str, frame: pl.DataFrame, partners: list, period: str):
    """The suite of one KPI extract. Several partners' extracts validated together carry a
    ``partner`` column, and their scope is checked as (partner, value) pairs."""
    import great_expectations.expectations as gxe

    extract = EXTRACTS[kpi]
    suite = gx.ExpectationSuite(name=name)
    add = suite.add_expectation
    # Columns and types as the contract has them, not as the frame has them (a check that takes
    # what it expects from what it checks cannot fail): only columns the partner's Erläuterungen
    # describe leave (an internal or hidden column has no label), and the figures are numbers:
    # counts and rates by their range checks below, which fail on text, means by type.
    add(gxe.ExpectTableColumnsToMatchOrderedList(column_list=_documented(kpi, frame.columns)))
    for column in extract.means:
        add(gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=NUMERIC_TYPES))
    for count in extract.counts:
        add(gxe.ExpectColumnValuesToNotBeInSet(column=count, value_set=[1, 2]))
        add(gxe.ExpectColumnValuesToBeBetween(column=count, min_value=0))
    for rate, (_, _, per) in extract.rates.items():
        add(gxe.ExpectColumnValuesToBeBetween(column=rate, min_value=0, max_value=per))

    _scope(suite, kpi, frame, partners)
    if extract.period == "month":
        months = sorted({m for p in partners for m in shown_months(period, p.history_months)})
        add(gxe.ExpectColumnValuesToBeInSet(column="month", value_set=months))
        add(gxe.ExpectColumnValuesToNotBeNull(column="month"))
    else:
        add(gxe.ExpectColumnValuesToBeInSet(column="year", value_set=[int(period[:4])]))
        add(gxe.ExpectColumnValuesToNotBeNull(column="year"))
    return suite


def _documented(kpi: str, columns: list[str]) -> list[str]:
    """The columns a partner's Erläuterungen describe (publish/labels.py), in the frame's order;
    ``partner`` tells apart the partners validated together."""
    return [c for c in columns if c == "partner" or described(kpi, c) is not None]


def _scope(suite, kpi: str, frame: pl.DataFrame, partners: list) -> None:
    """Only the partners' scope: their Kreise or Jobcenters, their Landschaftsverband, and no
    total rows for a partner who receives none."""
    import great_expectations.expectations as gxe

    add = suite.add_expectation

    def within(column: str, allowed_of) -> None:
        if len(partners) == 1:
            add(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(allowed_of(partners[0]))))
        else:
            pairs = [(p.id, value) for p in partners for value in allowed_of(p)]
            add(
                gxe.ExpectColumnPairValuesToBeInSet(
                    column_A="partner",
                    column_B=column,
                    value_pairs_set=pairs,
                    ignore_row_if="either_value_is_missing",
                )
            )

    for column in ("kreisschluessel", "jobcenter"):
        if column in frame.columns:
            within(column, lambda p: [*p.scope_kreise(), "unbekannt"] if kpi == "k05" else p.scope_kreise())
    if "landschaftsverband" in frame.columns and all(p.landschaftsverband for p in partners):
        within("landschaftsverband", lambda p: [p.landschaftsverband])
    if "level" in frame.columns and not any(p.statewide or p.landschaftsverband for p in partners):
        # a Jobcenter's own rows, and in a table of Jobcenters the totals it compares itself with
        comparisons = ["nrw", PEER_GROUP] if EXTRACTS[kpi].grain == "jobcenter" else []
        levels = ["werkstatt", "kreis", "jobcenter", *comparisons]
        add(gxe.ExpectColumnValuesToBeInSet(column="level", value_set=levels))


# Unexpected values are neither kept nor shown: a blocked delivery's values were withheld.
RESULT_FORMAT = {"result_format": "BASIC", "exclude_unexpected_values": True, "partial_unexpected_count": 0}


def _context():
    """An ephemeral GX context without Data Docs sites (the report is ours, see write_report)."""
    quiet_telemetry()  # GX reports usage unless told not to (teilhabe/settings.py)
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    return gx, gx.get_context(
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            data_docs_sites={},
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
        mode="ephemeral",
    )


def _import_gx() -> None:
    quiet_telemetry()
    import great_expectations
    import great_expectations.data_context.types.base
    import great_expectations.expectations  # noqa: F401


def import_in_background() -> threading.Thread:
    """Great Expectations imported in a thread, for a process that publishes later and now only
    waits (on dbt's build, which runs in a process of its own); join it before the process ends."""
    thread = threading.Thread(target=_import_gx, name="import great_expectations", daemon=True)
    thread.start()
    return thread


def _validate(name: str, frames: dict[str, pl.DataFrame], partners: list, period: str) -> list[Check]:
    """Every KPI frame's suite; the outcome of each expectation."""
    gx, context = _context()
    source = context.data_sources.add_pandas("extracts")
    checks = []
    for kpi, frame in frames.items():
        batch = source.add_dataframe_asset(f"{period}.{kpi}").add_batch_definition_whole_dataframe(kpi)
        suite = context.suites.add(_suite(gx, f"{name}.{kpi}", kpi, frame, partners, period))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}.{period}.{kpi}", data=batch, suite=suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": frame.to_pandas()}, result_format=RESULT_FORMAT
        )
        for outcome in result.results:
            config = outcome.expectation_config
            column = config.kwargs.get("column") or config.kwargs.get("column_B")
            unexpected = int((outcome.result or {}).get("unexpected_count") or 0)
            checks.append(Check(kpi, config.type, column, bool(outcome.success), unexpected))
    return checks


def write_report(path: Path, partner, period: str, checks: list[Check], together_with: int = 1) -> Path:
    """The internal validation report: one self-contained HTML page (no script, no external link,
    opens offline), the checks and how many values broke each, never a value."""
    failed = [c for c in checks if not c.passed]
    rows = "\n".join(
        f"<tr class={'ok' if c.passed else 'failed'}><td>{escape(c.kpi)}</td><td>{escape(c.expectation)}</td>"
        f"<td>{escape(c.column or '')}</td><td>{'passed' if c.passed else 'FAILED'}</td>"
        f"<td>{c.unexpected if not c.passed else ''}</td></tr>"
        for c in checks
    )
    together = (
        f"<p>Validated in one run with {_others(together_with)} of the same shape.</p>"
        if together_with > 1
        else ""
    )
    status = "blocked: not delivered" if failed else "passed: delivered"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Validation {escape(partner.id)} {escape(period)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #bbb; padding: .25rem .6rem; text-align: left; }}
tr.failed td {{ background: #fde2e1; font-weight: 600; }}
</style></head><body>
<h1>Validation of the extract for {escape(partner.name)}, {escape(period)}</h1>
<p><strong>{status}</strong> — {len(checks) - len(failed)} of {len(checks)} expectations met.
Internal report of the data home: it shows which checks ran and how many values broke each, never a value.</p>
{together}
<table><thead><tr><th>KPI</th><th>Expectation</th><th>Column</th><th>Result</th><th>Values that broke it</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p>Generated {datetime.now(UTC).isoformat(timespec="seconds")} by Great Expectations checks of publish/validation.py.</p>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(page, "utf-8")
    os.replace(temporary, path)
    return path


def report_path(reports: Path, partner, period: str) -> Path:
    return reports / partner.id / f"{period}.html"


def validate_delivery(sheets: list, partner, period: str, reports: Path) -> ValidationReport:
    """Run every sheet's suite in a context of its own, and write the partner's internal report."""
    checks = _validate(partner.id, {sheet.kpi: sheet.frame for sheet in sheets}, [partner], period)
    path = write_report(report_path(reports, partner, period), partner, period, checks)
    return ValidationReport(all(c.passed for c in checks), tuple(checks), path)


def validate_together(deliveries: list[tuple], reports: Path) -> dict[str, ValidationReport]:
    """Partners of one shape — same kind of scope, KPIs and period: the Jobcenters, the two
    Landschaftsverbände — validated with one suite per KPI over all their rows, each row's scope
    checked as a (partner, Kreis or Landschaftsverband) pair. GX's cost
    is per expectation, not per row: one run instead of one per partner.

    Only a pass is final: a group with any failure returns no report, and its partners are then
    validated one by one (exact blocking and findings of their own). ``deliveries``: (partner,
    period, sheets)."""
    groups: dict[tuple, list] = {}
    for partner, period, sheets in deliveries:
        shape = (partner.statewide, bool(partner.landschaftsverband), partner.kpis, period)
        groups.setdefault((*shape, tuple(s.kpi for s in sheets)), []).append((partner, sheets))
    passed = {}
    for (*_, period, kpis), members in groups.items():
        if len(members) < 2:
            continue
        partners = [partner for partner, _ in members]
        frames = {
            kpi: pl.concat(
                [sheets[index].frame.with_columns(pl.lit(p.id).alias("partner")) for p, sheets in members],
                how="vertical_relaxed",
            )
            for index, kpi in enumerate(kpis)
        }
        checks = _validate("together", frames, partners, period)
        if not all(c.passed for c in checks):
            continue
        for partner in partners:
            path = write_report(report_path(reports, partner, period), partner, period, checks, len(partners))
            passed[partner.id] = ValidationReport(True, tuple(checks), path, len(partners))
    return passed
