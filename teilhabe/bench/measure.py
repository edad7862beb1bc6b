"""Measuring a command as a user runs it: wall time and the peak resident memory of its whole process
tree (Dagster runs dbt as a child process; both count), sampled from /proc."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.1
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    returncode: int
    started: float  # epoch seconds, comparable with Dagster's event timestamps
    seconds: float
    peak_rss: int  # bytes, whole process tree
    samples: list[tuple[float, int]] = field(default_factory=list)  # (epoch, tree RSS bytes)

    def peak_between(self, start: float, end: float) -> int:
        inside = [rss for moment, rss in self.samples if start <= moment <= end]
        return max(inside, default=0)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        parent = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    tree, total, todo = _children(), 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except OSError:
            pass
        todo.extend(tree.get(current, []))
    return total


def run_measured(command: list[str], env: dict[str, str], log: Path) -> Measured:
    """Run a command to completion with its output in ``log``, sampling its tree's memory."""
    samples: list[tuple[float, int]] = []
    done = threading.Event()
    with log.open("wb") as output:
        started, clock = time.time(), time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603

        def sample() -> None:
            samples.append((time.time(), tree_rss(process.pid)))
            while not done.wait(SAMPLE_SECONDS):
                samples.append((time.time(), tree_rss(process.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # Sampled only: the kernel's ru_maxrss of a child starts at its parent's peak (it is kept
        # across fork and exec), so a large caller (pytest, a simulation) would pass as the child's.
        process.wait()
        seconds = time.perf_counter() - clock
        done.set()
        sampler.join()
    peak = max(rss for _, rss in samples) if samples else 0
    return Measured(process.returncode, started, seconds, peak, samples)
