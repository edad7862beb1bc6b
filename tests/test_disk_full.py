"""A disk that fills during a run: the run ends with one line naming the step, the path and the free
space, the failed step's temporary files are gone, what partners and analysts have stays intact,
and the next run on a disk with room completes. Needs a small real file system: a tmpfs, mounted
by the test (root only; skipped elsewhere)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

TEILHABE = str(Path(sys.executable).with_name("teilhabe"))


def _used(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@contextmanager
def _tmpfs(mount: Path, size: int | str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``mount`` for the block (root only: skipped elsewhere)."""
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def small_disk(demo_home, tmp_path):
    """A tmpfs holding a copy of the demo data home with 8 MB to spare."""
    size = _used(demo_home["root"]) - _used(demo_home["root"] / "inbox") + (8 << 20)
    with _tmpfs(tmp_path / "disk", size) as mount:
        yield mount


def test_a_full_disk_names_the_step_and_leaves_no_half_written_files(demo, demo_home, small_disk, tmp_path):
    home = small_disk / "home"
    shutil.copytree(demo_home["root"], home, symlinks=True, ignore=shutil.ignore_patterns("inbox"))
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:  # as after a run that failed: build again
        con.execute("delete from ops.run_state")
    inbox = tmp_path / "inbox"
    shutil.copytree(demo, inbox)
    analysts_before = (home / "analysts" / "teilhabe.duckdb").read_bytes()
    env = {**os.environ, "TEILHABE_HOME": str(home), "DAGSTER_HOME": str(tmp_path / "dagster"),
           "TEILHABE_MIN_FREE_MB": "0"}  # fmt: skip
    done = subprocess.run(
        [TEILHABE, "run", "--inbox", str(inbox)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    failed = [line for line in output.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1, output[-3000:]
    assert "the disk is full" in failed[0] and str(home) in failed[0] and "MB free" in failed[0], failed
    assert "Traceback" not in output
    leftovers = [
        *home.glob("analysts/.teilhabe.duckdb.building*"),
        *home.glob("warehouse.duckdb.tmp"),
        *home.glob("outbox/*/*/.v*.tmp-*"),
        *home.glob("archive/.intake-*"),
    ]
    assert leftovers == []
    assert (home / "analysts" / "teilhabe.duckdb").read_bytes() == analysts_before, (
        "the analysts keep their copy"
    )
    for latest in home.glob("outbox/*/*/latest"):
        assert (latest / "manifest.json").exists(), f"{latest} still points at a complete version"

    # With room again, the next run completes from what the failed one left.
    roomy = tmp_path / "roomy"
    shutil.copytree(home, roomy, symlinks=True)
    again = subprocess.run(
        [TEILHABE, "run", "--inbox", str(inbox)],
        env={**env, "TEILHABE_HOME": str(roomy)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]


@pytest.fixture
def tiny_disk(tmp_path):
    """A tmpfs of 256 KB, for one writer's behaviour when the space runs out."""
    with _tmpfs(tmp_path / "tiny", "256k") as mount:
        yield mount


def test_a_rueckmeldung_on_a_full_disk_names_itself_and_leaves_no_half_version(tiny_disk):
    """A full disk while a Rückmeldung was written ended the step in a bare OSError (an operator's
    review): now one line names the sender, the period, the path and the free space, and no
    half-written version is left beside the others."""
    from publish.feedback import Feedback, deliver_feedback
    from publish.senders import Sender
    from teilhabe.disk import StorageError

    findings = [
        {"file_name": "wfbm_LWL-0103_2023-03_personen.csv", "source_row": row, "column_name": "PLZ",
         "rule": "pattern", "level": "row", "message": "Format nicht eingehalten " * 20, "value": None}
        for row in range(2, 2000)
    ]  # fmt: skip
    item = Feedback("LWL-0103", "werkstatt", "2023-03", [], findings, [], [], [])
    sender = Sender("LWL-0103", "werkstatt", "Werkstatt LWL-0103", "werkstatt_LWL-0103")
    with pytest.raises(StorageError) as raised:
        deliver_feedback(item, sender, tiny_disk)
    said = str(raised.value)
    assert said.startswith("the Rückmeldung for LWL-0103 2023-03: writing ") and "the disk is full" in said
    assert "MB free" in said, said
    assert not list(tiny_disk.rglob(".v*.tmp-*")), "no half-written version"
