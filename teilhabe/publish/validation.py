"""Great Expectations 1.x checks of every extract before it leaves: columns and types, rates within
their range, no count of 1 or 2, only the partner's scope, only the requested period. GX runs on
the DataFrames themselves (through SQLAlchemy on DuckDB it fails, see ECOSYSTEM.md), in one
ephemeral context per delivery so that a partner's Data Docs never show another partner's checks.

GX is imported here only, lazily: its import costs ~7 s that no other command should pay.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from teilhabe.publish.extracts import EXTRACTS, period_months

NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "Int64", "Int32", "float64", "Float64"]
TEXT_TYPES = ["object", "str", "string"]


@dataclass(frozen=True)
class Finding:
    kpi: str
    expectation: str
    column: str | None
    unexpected: int  # how many values broke it (never the values: the docs show those)


@dataclass(frozen=True)
class ValidationReport:
    success: bool
    expectations: int
    findings: tuple[Finding, ...]
    data_docs: Path
    together_with: int = 1  # partners validated in the same run (validate_together)

    def summary(self) -> str:
        if self.success:
            shared = (
                f" (validated together with {self.together_with - 1} other partners)"
                if self.together_with > 1
                else ""
            )
            return f"{self.expectations} expectations met{shared}"
        failed = "; ".join(
            f"{f.kpi} {f.expectation}"
            + (f"({f.column})" if f.column else "")
            + f": {f.unexpected} unexpected"
            for f in self.findings
        )
        return f"{len(self.findings)} of {self.expectations} expectations failed: {failed}"


def _suite(gx, name: str, kpi: str, frame: pl.DataFrame, partners: list, period: str):
    """The suite of one KPI extract. Several partners' extracts validated together carry a
    ``partner`` column, and their scope is checked as (partner, value) pairs."""
    import great_expectations.expectations as gxe

    extract = EXTRACTS[kpi]
    suite = gx.ExpectationSuite(name=name)
    add = suite.add_expectation
    add(gxe.ExpectTableColumnsToMatchOrderedList(column_list=list(frame.columns)))
    for column, dtype in frame.schema.items():
        if dtype.is_numeric():
            add(gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=NUMERIC_TYPES))
        elif dtype == pl.String:
            add(gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=TEXT_TYPES))
    for count in extract.counts:
        add(gxe.ExpectColumnValuesToNotBeInSet(column=count, value_set=[1, 2]))
        add(gxe.ExpectColumnValuesToBeBetween(column=count, min_value=0))
    for rate, (_, _, per) in extract.rates.items():
        add(gxe.ExpectColumnValuesToBeBetween(column=rate, min_value=0, max_value=per))

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
        add(gxe.ExpectColumnValuesToBeInSet(column="level", value_set=["werkstatt", "kreis", "jobcenter"]))
    if extract.period == "month":
        add(gxe.ExpectColumnValuesToBeInSet(column="month", value_set=period_months(period)))
        add(gxe.ExpectColumnValuesToNotBeNull(column="month"))
    else:
        add(gxe.ExpectColumnValuesToBeInSet(column="year", value_set=[int(period[:4])]))
        add(gxe.ExpectColumnValuesToNotBeNull(column="year"))
    return suite


def _context(docs_dir: Path):
    """An ephemeral GX context whose only Data Docs site is ``docs_dir``."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    docs_dir.mkdir(parents=True, exist_ok=True)
    site = {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    return gx, gx.get_context(
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            data_docs_sites={"partner": site},
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
        mode="ephemeral",
    )


def _validate(
    docs_dir: Path,
    name: str,
    frames: dict[str, pl.DataFrame],
    partners: list,
    period: str,
    result_format: str,
) -> tuple[bool, int, list[Finding]]:
    """Every KPI frame's suite, then the Data Docs of the site."""
    gx, context = _context(docs_dir)
    source = context.data_sources.add_pandas("extracts")
    findings, expectations, success = [], 0, True
    for kpi, frame in frames.items():
        batch = source.add_dataframe_asset(f"{period}.{kpi}").add_batch_definition_whole_dataframe(kpi)
        suite = context.suites.add(_suite(gx, f"{name}.{kpi}", kpi, frame, partners, period))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}.{period}.{kpi}", data=batch, suite=suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": frame.to_pandas()}, result_format=result_format
        )
        success &= result.success
        for outcome in result.results:
            expectations += 1
            if not outcome.success:
                config = outcome.expectation_config
                unexpected = int((outcome.result or {}).get("unexpected_count") or 0)
                findings.append(Finding(kpi, config.type, config.kwargs.get("column"), unexpected))
    context.build_data_docs(site_names=["partner"])
    return success, expectations, findings


def validate_delivery(sheets: list, partner, period: str, docs_dir: Path) -> ValidationReport:
    """Run every sheet's suite and update the partner's Data Docs (a context of its own, so that
    they never show another partner's checks)."""
    frames = {sheet.kpi: sheet.frame for sheet in sheets}
    success, expectations, findings = _validate(docs_dir, partner.id, frames, [partner], period, "SUMMARY")
    return ValidationReport(success, expectations, tuple(findings), docs_dir / "index.html")


def validate_together(deliveries: list[tuple], outbox: Path) -> dict[str, ValidationReport]:
    """Partners of one shape — Kreis-scoped, same KPIs and period: the Jobcenters — validated with one
    suite per KPI over all their rows, each row's scope checked as a (partner, Kreis) pair. GX's cost
    is per expectation, not per row: one run instead of one per partner.

    Only a pass is final: a group with any failure returns no report, and its partners are then
    validated one by one (exact blocking, findings and Data Docs of their own). The shared Data Docs
    are copied to each member only after a pass, when they hold no unexpected value of anyone: they
    show what was checked, never another partner's figures. ``deliveries``: (partner, period, sheets)."""
    groups: dict[tuple, list] = {}
    for partner, period, sheets in deliveries:
        if not (partner.statewide or partner.landschaftsverband):
            groups.setdefault((partner.kpis, period, tuple(s.kpi for s in sheets)), []).append(
                (partner, sheets)
            )
    reports = {}
    for (_, period, kpis), members in groups.items():
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
        with tempfile.TemporaryDirectory(prefix="gx-docs-") as shared:
            docs = Path(shared)
            success, expectations, _ = _validate(docs, "together", frames, partners, period, "SUMMARY")
            if not success:
                continue
            for partner in partners:
                shutil.copytree(docs, outbox / partner.id / "data_docs", dirs_exist_ok=True)
        for partner in partners:
            reports[partner.id] = ValidationReport(
                True, expectations, (), outbox / partner.id / "data_docs" / "index.html", len(partners)
            )
    return reports
