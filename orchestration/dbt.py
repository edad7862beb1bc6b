"""dbt as Dagster drives it: the project and its manifest (kept current), the resource, and what
each invocation needs (its environment, its own target folder, dbt's console and errors).

Parsing costs a few seconds, so it happens only when a file of the dbt project changed since the
last manifest (or under ``dagster dev``), never on every load.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib import metadata
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from teilhabe.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)


@contextmanager
def dbt_environment(warehouse: Path | None = None, memory_limit: str | None = None) -> Iterator[None]:
    """The environment dbt reads, for one invocation only: the warehouse file and DuckDB's memory
    limit (dbt_project/profiles.yml), and this environment's dbt first on PATH (also when the venv
    is not activated, e.g. `.venv/bin/dagster`)."""
    saved = {
        name: os.environ.get(name) for name in ("TEILHABE_WAREHOUSE", "TEILHABE_DUCKDB_MEMORY_LIMIT", "PATH")
    }
    if warehouse is not None:
        os.environ["TEILHABE_WAREHOUSE"] = str(warehouse)
    if memory_limit is not None:
        os.environ["TEILHABE_DUCKDB_MEMORY_LIMIT"] = memory_limit
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + (saved["PATH"] or "")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _newest_source_mtime() -> float:
    patterns = ("*.sql", "*.yml", "*.csv", "*.md")  # doc blocks too: they are the analysts' comments
    files = [
        path
        for pattern in patterns
        for path in DBT_PROJECT_DIR.rglob(pattern)
        if "target" not in path.parts and "logs" not in path.parts
    ]
    return max(path.stat().st_mtime for path in files)


def ensure_manifest() -> None:
    manifest = dbt_project.manifest_path
    if (
        dbt_project.preparer.using_dagster_dev()
        or not manifest.exists()
        or (manifest.stat().st_mtime < _newest_source_mtime())
    ):
        with dbt_environment():
            dbt_project.preparer.prepare(dbt_project)


class WarehouseDbt(DbtCliResource):
    """``dbt build`` as the pipeline runs it, without two fixed costs dagster-dbt pays before every
    invocation (measured ~4 s of a 5-year increment's 30 s; pinned dagster-dbt 0.29):

    - ``dbt --version`` in a second process to learn the version: it is this environment's dbt;
    - an in-process dbt adapter, used only to fetch row counts and column metadata, which these
      assets do not ask for.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


class DbtConsole(io.TextIOBase):
    """A file for dbt's console lines that never fails the build (a full disk just ends it)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed when the run ends)
        self._broken = False

    def write(self, text: str) -> int:
        if not self._broken:
            try:
                self._handle.write(text)
            except OSError:
                self._broken = True
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self._handle.flush()

    @contextlib.contextmanager
    def redirect(self) -> Iterator[None]:
        """Standard output into this file for the block; the file closed after it."""
        try:
            with contextlib.redirect_stdout(self):
                yield
        finally:
            with contextlib.suppress(OSError):
                self._handle.close()


KEEP_RUN_TARGETS = 5
RUN_TARGET_PREFIX = "build-"


def dbt_errors(error: Exception) -> str:
    """dbt's own error messages in one line (dagster-dbt lists them after a marker): how many
    nodes failed, and the distinct causes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    parsed = text.split("Errors parsed from dbt logs:", 1)[-1]
    lines = [line.strip() for line in parsed.splitlines() if line.strip()]
    failed = [line for line in lines if re.match(r"^\d+ of \d+ (ERROR|FAIL)", line)]
    causes = list(dict.fromkeys(c for c in lines if c not in failed and not c.startswith("Unhandled error")))
    summary = "; ".join(causes[:2]) or (failed[0] if failed else text.splitlines()[0])
    return (f"{len(failed)} dbt nodes failed: " if failed else "") + summary[:300]


PARSED_FROM = "partial_parse.project"  # beside the saved parse: the project folder it was made of


def restore_partial_parse(state: Path, run_target: Path) -> None:
    """Start from this data home's last parse (dbt re-parses the whole project, ~3 s, when the
    state was written for another profile); on the first run, from the parse Dagster prepared.
    A parse made of the project in another folder (a new release directory) is not used: dbt
    re-parsed only the files that changed and kept the others' paths, and every build failed at
    a seed of the old folder (an operator review). Copied here rather than by dagster-dbt, which
    would keep the repository's file mode: the data home stays private."""
    saved = state / "partial_parse.msgpack"
    marker = state / PARSED_FROM
    if saved.exists() and (not marker.exists() or marker.read_text() != str(dbt_project.project_dir)):
        return
    if not saved.exists():
        saved = dbt_project.project_dir / dbt_project.target_path / "partial_parse.msgpack"
    if saved.exists():
        run_target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(saved, run_target / "partial_parse.msgpack")


def keep_partial_parse(run_target: Path, state: Path) -> None:
    """Keep the parse this run wrote, so the next run of this data home parses partially."""
    written = run_target / "partial_parse.msgpack"
    if written.exists():
        saved = state / "partial_parse.msgpack"
        temporary = saved.with_suffix(f".{os.getpid()}.tmp")
        try:
            shutil.copyfile(written, temporary)
            os.replace(temporary, saved)
        except OSError:
            temporary.unlink(missing_ok=True)  # a full disk: the last parse stays as it was
            raise
        (state / PARSED_FROM).write_text(str(dbt_project.project_dir))


def prune_run_targets(state: Path, keep: int) -> None:
    """Each invocation gets its own dbt target folder (~8 MB: compiled SQL, run results, logs); keep
    the newest few for debugging instead of one more per nightly run forever."""
    runs = sorted(state.glob(f"{RUN_TARGET_PREFIX}*"), key=lambda p: p.stat().st_mtime)
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
