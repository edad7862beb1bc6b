"""Teilhabe Warehouse: shared settings, reference data, the command line and the delivery simulator."""
