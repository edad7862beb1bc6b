"""The assets of the pipeline, one file per stage: ingest, warehouse (dbt), publish."""
