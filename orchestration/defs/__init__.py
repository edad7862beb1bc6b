"""Definitions grouped by what they serve: ingest, warehouse (dbt), publish."""
