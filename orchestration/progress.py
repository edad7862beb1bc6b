"""The console's view of a command-line run: one line per stage, read from the run's event log
while it runs (the full log stays in the Dagster instance, for `make dev`). On a terminal the line
of the running stage updates in place (dbt's models counted as they are built); into a file or a
pipe each stage writes its one line when it ends, without control characters.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

import dagster as dg

# The pipeline's steps as an operator names them; re-issue steps are named by their period kind.
STAGES = {
    "landing_tables": "ingest",
    "linkage__person_ids": "linkage",
    "warehouse_dbt_assets": "dbt build",
    "analysts__teilhabe_duckdb": "analysts' copy",
    "outbox__extracts": "extracts",
    "outbox__rueckmeldungen": "Rückmeldungen",
    "outbox__periods__monthly": "extracts",
    "outbox__periods__quarterly": "extracts",
    "outbox__periods__yearly": "extracts",
}
COUNTED = {"ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION", "ASSET_OBSERVATION"}
WATCHED = {dg.DagsterEventType(kind) for kind in (*COUNTED, "STEP_START", "STEP_SUCCESS", "STEP_FAILURE")}
POLL_SECONDS = 0.5


class Progress(threading.Thread):
    """Follows one run's event log until ``stop()``; ``dbt_nodes`` is what the dbt step will
    report (models, seeds and tests), for its counter."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, dbt_nodes: int, out: TextIO | None = None):
        super().__init__(daemon=True, name="teilhabe-progress")
        self.instance, self.run_id, self.dbt_nodes = instance, run_id, dbt_nodes
        self.out = out or sys.stdout
        self.live = self.out.isatty()
        self._stopping = threading.Event()
        self._cursor: str | None = None  # the last event read
        self._running: dict[str, float] = {}  # step -> when it started
        self._counts: dict[str, int] = {}

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)
        self._poll()  # whatever the last poll missed
        if self.live and self._running:
            self.out.write("\n")

    def run(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            self._poll()

    def _poll(self) -> None:
        """The step events written since the last poll (a cursor: reading the whole log on every
        poll decoded up to ~1,000 events each half second, on the interpreter the steps run on)."""
        try:
            page = self.instance.get_records_for_run(self.run_id, cursor=self._cursor, of_type=WATCHED)
        except Exception:  # the log cannot be read now (locked, a full disk): try again later
            return
        self._cursor = page.cursor
        for record in page.records:
            entry = record.event_log_entry
            event = entry.dagster_event
            if event is None or event.step_key not in STAGES:
                continue
            kind, step = event.event_type_value, event.step_key
            if kind == "STEP_START":
                self._running[step] = entry.timestamp
            elif kind in COUNTED:
                self._counts[step] = self._counts.get(step, 0) + 1
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and step in self._running:
                seconds = entry.timestamp - self._running.pop(step)
                verdict = "done" if kind == "STEP_SUCCESS" else "FAILED"
                self._line(f"{STAGES[step]:<16}{verdict} in {seconds:.1f} s", final=True)
        if self.live:
            for step, started in self._running.items():
                count = self._counts.get(step, 0)
                counter = (
                    f"  {count}/{self.dbt_nodes} models and tests" if step == "warehouse_dbt_assets" else ""
                )
                self._line(f"{STAGES[step]:<16}{time.time() - started:.0f} s{counter}", final=False)

    def _line(self, text: str, final: bool) -> None:
        if self.live:
            self.out.write(f"\r\x1b[K{text}" + ("\n" if final else ""))
        elif final:
            self.out.write(text + "\n")
        self.out.flush()
