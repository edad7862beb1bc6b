"""Linking people across agencies (spec/linkage.md): a Fellegi-Sunter model (Splink, on DuckDB) over
the keyed comparison encodings the readers wrote (ingest/encodings.py); never plaintext."""
