"""The Dagster code location of Teilhabe Warehouse (entry point: ``orchestration.definitions``)."""
