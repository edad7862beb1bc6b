"""The one entry point of the code location: ``dagster dev -m orchestration.definitions``."""

from __future__ import annotations

import dagster as dg

from orchestration.dbt import dbt_resource
from orchestration.defs import warehouse
from teilhabe.settings import quiet_telemetry

quiet_telemetry()

defs = dg.Definitions.merge(
    warehouse.defs,
    dg.Definitions(resources={"dbt": dbt_resource()}),
)
