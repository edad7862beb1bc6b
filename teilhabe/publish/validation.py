"""Great Expectations 1.x checks of every extract before it leaves: columns and types, rates within
their range, no count of 1 or 2, only the partner's scope, only the requested period. GX runs on
the DataFrames themselves (through SQLAlchemy on DuckDB it fails, see ECOSYSTEM.md), in one
ephemeral context per delivery so that a partner's Data Docs never show another partner's checks.

GX is imported here only, lazily: its import costs ~7 s that no other command should pay.
"""

from __future__ import annotations

import os
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

    def summary(self) -> str:
        if self.success:
            return f"{self.expectations} expectations met"
        failed = "; ".join(
            f"{f.kpi} {f.expectation}"
            + (f"({f.column})" if f.column else "")
            + f": {f.unexpected} unexpected"
            for f in self.findings
        )
        return f"{len(self.findings)} of {self.expectations} expectations failed: {failed}"


def _suite(gx, sheet, partner, period: str):
    import great_expectations.expectations as gxe

    extract = EXTRACTS[sheet.kpi]
    frame = sheet.frame
    suite = gx.ExpectationSuite(name=f"{partner.id}.{sheet.kpi}")
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
    scope = list(partner.scope_kreise())
    for column in ("kreisschluessel", "jobcenter"):
        if column in frame.columns:
            allowed = [*scope, "unbekannt"] if sheet.kpi == "k05" else scope
            add(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=allowed))
    if "landschaftsverband" in frame.columns and partner.landschaftsverband:
        add(
            gxe.ExpectColumnValuesToBeInSet(
                column="landschaftsverband", value_set=[partner.landschaftsverband]
            )
        )
    if "level" in frame.columns and not (partner.statewide or partner.landschaftsverband):
        add(gxe.ExpectColumnValuesToBeInSet(column="level", value_set=["werkstatt", "kreis", "jobcenter"]))
    if extract.period == "month":
        add(gxe.ExpectColumnValuesToBeInSet(column="month", value_set=period_months(period)))
        add(gxe.ExpectColumnValuesToNotBeNull(column="month"))
    else:
        add(gxe.ExpectColumnValuesToBeInSet(column="year", value_set=[int(period[:4])]))
        add(gxe.ExpectColumnValuesToNotBeNull(column="year"))
    return suite


def validate_delivery(sheets: list, partner, period: str, docs_dir: Path) -> ValidationReport:
    """Run every sheet's suite in one checkpoint and update the partner's Data Docs."""
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
    context = gx.get_context(
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            data_docs_sites={"partner": site},
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
        mode="ephemeral",
    )
    source = context.data_sources.add_pandas("extracts")
    definitions, frames = [], {}
    for sheet in sheets:
        batch = source.add_dataframe_asset(f"{period}.{sheet.kpi}").add_batch_definition_whole_dataframe(
            sheet.kpi
        )
        suite = context.suites.add(_suite(gx, sheet, partner, period))
        definitions.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(name=f"{partner.id}.{period}.{sheet.kpi}", data=batch, suite=suite)
            )
        )
        frames[sheet.kpi] = sheet.frame.to_pandas()
    findings, expectations, success = [], 0, True
    for definition, sheet in zip(definitions, sheets, strict=True):
        result = definition.run(batch_parameters={"dataframe": frames[sheet.kpi]})
        success &= result.success
        for outcome in result.results:
            expectations += 1
            if not outcome.success:
                config = outcome.expectation_config
                findings.append(
                    Finding(
                        sheet.kpi,
                        config.type,
                        config.kwargs.get("column"),
                        int(outcome.result.get("unexpected_count") or 0),
                    )
                )
    context.build_data_docs(site_names=["partner"])
    return ValidationReport(success, expectations, tuple(findings), docs_dir / "index.html")
