"""Long-running workers (ingest, vision), composed from the packages and the settings."""
