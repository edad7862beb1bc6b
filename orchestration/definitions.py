"""The one entry point of the code location: ``dagster dev -m orchestration.definitions``."""

from __future__ import annotations

import dagster as dg

from orchestration.dbt import dbt_resource
from orchestration.defs import ingest, publish, warehouse
from orchestration.resources import data_home_resource
from teilhabe.settings import quiet_telemetry

quiet_telemetry()

defs = dg.Definitions.merge(
    ingest.defs,
    warehouse.defs,
    publish.defs,
    dg.Definitions(resources={"dbt": dbt_resource(), "data_home": data_home_resource()}),
)
