"""The dbt layers point one way: staging -> intermediate -> marts -> kpi. A KPI reads marts and
intermediate models, never staging, so each figure rests on the documented, tested facts analysts
also see; and nothing below the KPI layer reads a KPI. Read from the SQL and yml alone (no build)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models"
KPI = MODELS / "kpi"
CALL = re.compile(r"\bref\s*\(([^)]*)\)")
QUOTED = re.compile(r"""(['"])(.*?)\1""")


def refs(text: str) -> list[str]:
    """The models a text refers to with ref('…') or ref("…"), also ref('package', 'model')."""
    found = []
    for call in CALL.finditer(text):
        names = [name for _, name in QUOTED.findall(call.group(1).split("=")[0])]
        if names:
            found.append(names[-1])
    return found


def kpi_models() -> set[str]:
    return {path.stem for path in KPI.glob("*.sql")}


def unit_test_inputs() -> list[tuple[str, str, str]]:
    """(yml file, unit test, input ref) of every unit test of a KPI model or written in kpi/."""
    found = []
    for path in sorted(MODELS.rglob("*.yml")):
        document = yaml.safe_load(path.read_text("utf-8")) or {}
        for test in document.get("unit_tests") or []:
            if path.parent != KPI and test.get("model") not in kpi_models():
                continue
            for given in test.get("given") or []:
                for name in refs(str(given.get("input", ""))):
                    found.append((str(path.relative_to(MODELS)), test["name"], name))
    return found


def test_the_ref_pattern_reads_both_quotes_and_packages():
    """Guards the guard: a pattern that found nothing would let every layer check pass."""
    text = """{{ ref('stg_a') }} {{ ref("stg_b") }} {{ ref('teilhabe', 'stg_c') }} {{ ref('m', v=2) }}"""
    assert refs(text) == ["stg_a", "stg_b", "stg_c", "m"]
    assert len(kpi_models()) >= 14
    assert "fct_transitions" in refs((KPI / "k10_uebergang_dann_arbeitslos.sql").read_text("utf-8"))


@pytest.mark.parametrize("path", sorted(KPI.glob("*.sql")), ids=lambda path: path.name)
def test_kpi_models_read_no_staging(path):
    """A KPI built on staging bypasses the marts' deduplication, types and tests."""
    staging = [name for name in refs(path.read_text("utf-8")) if name.startswith("stg_")]
    assert staging == [], f"kpi/{path.name} refers to staging: {', '.join(staging)} (use a mart)"


def test_kpi_unit_tests_give_no_staging_inputs():
    """A KPI's unit test gives the inputs the KPI reads: staging inputs would mean it reads staging."""
    staging = [
        f"{file}: {test} gives ref('{name}')"
        for file, test, name in unit_test_inputs()
        if name.startswith("stg_")
    ]
    assert staging == [], "unit tests of KPIs with staging inputs:\n" + "\n".join(staging)


def test_no_layer_below_kpi_reads_a_kpi():
    """Marts (and staging, intermediate) never read a KPI: a KPI is computed from them, not the reverse."""
    kpis = kpi_models()
    upward = [
        f"{path.relative_to(MODELS)} refers to kpi model {name}"
        for path in sorted(MODELS.rglob("*.sql"))
        if path.parent != KPI
        for name in refs(path.read_text("utf-8"))
        if name in kpis
    ]
    assert upward == [], "\n".join(upward)
    assert any(MODELS.joinpath("marts").glob("*.sql"))
