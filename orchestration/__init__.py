"""The Dagster code location of Teilhabe Warehouse (entry point: ``orchestration.definitions``)."""

# The code location's name, as pyproject.toml's [tool.dagster] gives it to `dagster dev`. Runs started
# from the command line carry it in the tag the UI filters a job's runs by, so they appear under
# their job and on the timeline like runs launched from the UI.
CODE_LOCATION = "teilhabe_warehouse"
REPOSITORY_TAG = {".dagster/repository": f"__repository__@{CODE_LOCATION}"}
