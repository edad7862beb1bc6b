"""dbt's unit tests (the yml files beside the models: fixed inputs, expected rows) run here, on a copy
of the demo warehouse, since the pipeline's build leaves them out (they check the SQL, not a
delivery)."""

from __future__ import annotations

import json
import shutil

import yaml
from dbt.cli.main import dbtRunner

from orchestration.dbt import dbt_environment, dbt_project


def test_every_dbt_unit_test_passes(demo_home, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", warehouse)
    with dbt_environment(warehouse):
        result = dbtRunner().invoke(
            ["test", "--select", "test_type:unit", "--project-dir", str(dbt_project.project_dir),
             "--profiles-dir", str(dbt_project.profiles_dir), "--target-path", str(tmp_path / "target"),
             "--log-path", str(tmp_path / "logs"), "--quiet"]
        )  # fmt: skip
    assert result.exception is None, result.exception
    outcomes = {node.node.name: str(node.status) for node in result.result}
    declared = {
        test["name"]
        for path in (dbt_project.project_dir / "models").rglob("*.yml")
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests") or []
    }
    assert declared and set(outcomes) == declared
    assert set(outcomes.values()) == {"pass"}, {name: s for name, s in outcomes.items() if s != "pass"}


def test_the_pipelines_build_leaves_them_out(demo_home):
    [build] = list((demo_home["root"] / "dbt").glob("build-*"))
    results = json.loads((build / "run_results.json").read_text())["results"]
    kinds = {result["unique_id"].split(".")[0] for result in results}
    assert {"model", "test"} <= kinds and "unit_test" not in kinds


def test_a_duplicate_in_what_the_last_build_wrote_fails_the_key_test(demo_home, tmp_path):
    """The key tests of the models incremental by delivered partition check only the rows the last
    build wrote (only_last_build): a duplicate there still fails them, while the older partitions
    (written and tested by earlier builds) are not read again."""
    import duckdb

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_home["root"] / "warehouse.duckdb", warehouse)
    models = {
        "intermediate.int_work_area_persons": "werkstatt_nr",
        "marts.fct_jobcenter_customer_months": "jobcenter",
    }
    with duckdb.connect(str(warehouse)) as con:
        for table, sender in models.items():
            newest = con.execute(f"select max(delivered_through) from {table}").fetchone()[0]
            one = con.execute(f"select min({sender}) from {table}").fetchone()[0]
            # every other partition as if an earlier build had written it; one row of this one twice
            con.execute(f"update {table} set delivered_through = {newest} - 1 where {sender} <> ?", [one])
            con.execute(f"insert into {table} select * from {table} where {sender} = ? limit 1", [one])

    def key_tests() -> dict[str, str]:
        with dbt_environment(warehouse):
            result = dbtRunner().invoke(
                ["test", "--select", "int_work_area_persons fct_jobcenter_customer_months,test_name:unique_combination",
                 "--project-dir", str(dbt_project.project_dir), "--profiles-dir", str(dbt_project.profiles_dir),
                 "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"), "--quiet"]
            )  # fmt: skip
        return {
            node.node.name: str(node.status)
            for node in result.result
            if "unique_combination" in node.node.name
        }

    outcomes = key_tests()
    assert len(outcomes) == 2 and set(outcomes.values()) == {"fail"}, outcomes
