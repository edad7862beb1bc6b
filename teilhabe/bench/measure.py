"""Measuring a command as a user runs it: wall time, CPU time and the peak resident memory of its
whole process tree (Dagster runs dbt and the workbook and report workers as child processes; all
count), sampled from /proc."""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.1
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    returncode: int
    started: float  # epoch seconds, comparable with Dagster's event timestamps
    seconds: float
    peak_rss: int  # bytes, whole process tree
    cpu_seconds: float = 0.0  # user + system of the command and every descendant it waited for
    samples: list[tuple[float, int, float]] = field(default_factory=list)  # (epoch, tree RSS, tree CPU s)

    def peak_between(self, start: float, end: float) -> int:
        inside = [rss for moment, rss, _ in self.samples if start <= moment <= end]
        return max(inside, default=0)

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds the tree used between two moments, from the samples nearest to them (a
        descendant that ends between two samples moves its time into its parent's: none is lost)."""
        if not self.samples:
            return 0.0

        def at(moment: float) -> float:
            return min(self.samples, key=lambda sample: abs(sample[0] - moment))[2]

        return max(0.0, at(end) - at(start))


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


def tree_usage(pid: int) -> tuple[int, float] | None:
    """Resident bytes and CPU seconds (user + system, with the reaped children's) of a process and
    all its descendants; None once the process itself is gone (reaped), when /proc can no longer
    account for its tree and a zero would read as time running backwards."""
    tree, rss, ticks, todo = _children(), 0, 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm", "rb") as handle:
                rss += int(handle.read().split()[1]) * PAGE
            with open(f"/proc/{current}/stat", "rb") as handle:
                stat = handle.read()
            # utime, stime, cutime, cstime: fields 14-17 of stat, after the name in parentheses
            ticks += sum(int(f) for f in stat[stat.rindex(b")") + 2 :].split()[11:15])
        except (OSError, ValueError):
            if current == pid:
                return None
            continue  # a descendant that ended: its time is in its parent's once reaped
        todo.extend(tree.get(current, []))
    return rss, ticks / TICK


def run_measured(command: list[str], env: dict[str, str], log: Path) -> Measured:
    """Run a command to completion with its output in ``log``, sampling its tree's memory and CPU."""
    samples: list[tuple[float, int, float]] = []
    done = threading.Event()
    with log.open("wb") as output:
        started, clock = time.time(), time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603

        def sample() -> None:
            while True:
                moment, usage = time.time(), tree_usage(process.pid)
                if usage is not None:  # a sample after the reaping would put the tree's CPU at 0
                    samples.append((moment, *usage))
                if done.wait(SAMPLE_SECONDS):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # Sampled only: the kernel's ru_maxrss of a child starts at its parent's peak (it is kept
        # across fork and exec), so a large caller (pytest, a simulation) would pass as the child's.
        process.wait()
        seconds = time.perf_counter() - clock
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        done.set()
        sampler.join()
    # The whole command's CPU exactly, from the kernel's account of the reaped child (its own
    # reaped descendants included); the samples place it in time.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if samples:  # the final moment: the whole tree's CPU, so stage windows add up to the command's
        samples.append((time.time(), 0, cpu))
    peak = max(rss for _, rss, _ in samples) if samples else 0
    return Measured(process.returncode, started, seconds, peak, cpu, samples)
