"""`make docs`, `make dev` and `make run` in any order: each dbt invocation with its own project path
or profile keeps its own target and partial-parse state (the docs in dbt_project/target/docs, the
Dagster manifest in dbt_project/target, the pipeline's runs in the data home)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEILHABE = str(Path(sys.executable).with_name("teilhabe"))


def _step(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{(done.stdout + done.stderr)[-3000:]}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_docs_dev_and_run_in_both_orders(spec_dir, tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(spec_dir / "samples", inbox)
    home = tmp_path / "home"
    env = {**os.environ, "TEILHABE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    docs = ["make", "-s", "docs"]
    run = [TEILHABE, "run", "--inbox", str(inbox)]
    # What `dagster dev` does when it loads the code location: prepare the manifest with dbt parse.
    dev = [sys.executable, "-c", "import orchestration.definitions"]
    dev_env = {**env, "DAGSTER_IS_DEV_CLI": "1"}

    _step(docs, env)
    _step(run, env)
    _step(docs, env)
    _step(dev, dev_env)
    _step(run, env)
    _step(docs, env)
    assert (REPO / "dbt_project" / "target" / "docs" / "index.html").exists()
    assert (home / "dbt" / "partial_parse.msgpack").exists(), "the runs keep their dbt state in the data home"


def test_a_parse_of_the_project_in_another_folder_is_not_restored(tmp_path):
    """An operator review moved the code to a new release folder and changed one model: dbt
    re-parsed that file only, kept the seeds' paths of the old folder, and every build failed at
    a seed until someone deleted the saved parse. A parse is restored only into the project folder
    it was made of; a data home's own parse is kept with the folder's name."""
    from orchestration.dbt import PARSED_FROM, dbt_project, keep_partial_parse, restore_partial_parse

    state, run = tmp_path / "dbt", tmp_path / "dbt" / "build-1"
    run.mkdir(parents=True)
    (run / "partial_parse.msgpack").write_bytes(b"parse of this folder")
    keep_partial_parse(run, state)
    assert (state / PARSED_FROM).read_text() == str(dbt_project.project_dir)
    restore_partial_parse(state, tmp_path / "next")
    assert (tmp_path / "next" / "partial_parse.msgpack").read_bytes() == b"parse of this folder"

    (state / PARSED_FROM).write_text("/srv/teilhabe/release-41/dbt_project")
    restore_partial_parse(state, tmp_path / "moved")
    assert not (tmp_path / "moved" / "partial_parse.msgpack").exists(), "dbt parses the whole project"


def test_a_changed_doc_block_makes_the_manifest_parsed_again(tmp_path, monkeypatch):
    """A doc block (``{% docs %}`` in a .md file) is a column's comment in the analysts' copy: its
    change left the manifest as it was, so the copy kept the old text (an onboarding review)."""
    import os

    from orchestration import dbt

    (tmp_path / "models").mkdir()
    model, doc = tmp_path / "models" / "k01.sql", tmp_path / "models" / "_kpi__totals.md"
    model.write_text("select 1")
    doc.write_text("{% docs totals_note %}new text{% enddocs %}")
    os.utime(model, (1_000_000, 1_000_000))
    os.utime(doc, (2_000_000, 2_000_000))
    monkeypatch.setattr(dbt, "DBT_PROJECT_DIR", tmp_path)
    assert dbt._newest_source_mtime() == 2_000_000
