"""dbt itself on a copy of a warehouse, as the tests that change its inputs by hand run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def dbt_build(warehouse: Path, *arguments: str) -> None:
    dbt = Path(sys.executable).with_name("dbt")
    project = Path(__file__).resolve().parents[1] / "dbt_project"
    env = {**os.environ, "TEILHABE_WAREHOUSE": str(warehouse)}
    command = [
        str(dbt),
        "build",
        *arguments,
        "--quiet",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
    ]
    subprocess.run(command, check=True, env=env, cwd=project)
