"""Jobs: the pipeline (ingest, build, publish the latest periods) and one re-issue job per period kind."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.partitions import ASSET_NAMES
from teilhabe.settings import WAREHOUSE_RUN_TAG

pipeline_job = dg.define_asset_job(
    "pipeline",
    # Everything but the re-issue assets of past periods (orchestration/defs/assets/publish.py) and
    # the operators' daily digest (its own schedule).
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.key_prefixes(["outbox", "periods"])
    - dg.AssetSelection.assets(["reports", "operations"]),
    description="Ingest every new delivery, build the warehouse, publish the analysts' copy and extracts",
    tags={WAREHOUSE_RUN_TAG: "writes"},  # one such run at a time (teilhabe/settings.py dagster_yaml)
)

PUBLISH_JOBS = {
    kind: dg.define_asset_job(
        f"publish_{name}",
        selection=dg.AssetSelection.assets(["outbox", "periods", name]),
        description=f"Re-issue one {kind}'s extracts (schedules of partners.yaml, `teilhabe publish`)",
        tags={WAREHOUSE_RUN_TAG: "writes"},
    )
    for kind, name in ASSET_NAMES.items()  # partitioned as its asset (PERIOD_PARTITIONS)
}
