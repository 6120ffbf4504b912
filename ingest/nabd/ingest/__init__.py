"""nabd.ingest."""
