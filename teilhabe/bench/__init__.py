"""``teilhabe bench``: the whole pipeline measured at demo and NRW scale, stage by stage, beside a
plain-DuckDB baseline on the same files. Results go to WORK/results as JSON and Markdown."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from teilhabe.bench.report import goals, machine, markdown, startup_costs
from teilhabe.bench.scenarios import SCENARIOS, ScenarioFigures, run_scenario


def run_benchmark(names: list[str], work: Path) -> int:
    work.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(f"benchmark on {info['cores']} cores, {info['memory_gib']} GiB; work folder {work}")
    startup = startup_costs(work)
    results: dict[str, ScenarioFigures] = {}
    homes: dict[str, Path] = {}
    # An increment builds on its full load: run that first when both are asked for.
    for name in sorted(names, key=lambda n: (SCENARIOS[n].then_received_before is not None, names.index(n))):
        print(f"scenario {name}: {SCENARIOS[name].description} ...", flush=True)
        results[name] = run_scenario(SCENARIOS[name], work, homes)
        run = results[name].measured
        print(
            f"  {run.seconds:.1f} s, peak {run.peak_rss / 2**30:.2f} GiB{'' if run.success else ', FAILED'}"
        )
    table = markdown(info, startup, results)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = work / "results"
    out.mkdir(exist_ok=True)
    document = {
        "machine": info,
        "startup_seconds": startup,
        "scenarios": {name: figures.to_json() for name, figures in results.items()},
        "goals": [goal.__dict__ for goal in goals(results)],
    }
    for name in (f"bench-{stamp}", "latest"):
        (out / f"{name}.json").write_text(json.dumps(document, indent=2))
        (out / f"{name}.md").write_text(table)
    print()
    print(table)
    print(f"written: {out / f'bench-{stamp}.md'} and .json (also latest.md, latest.json)")
    return 0 if all(figures.measured.success for figures in results.values()) else 1
