-- Device coverage (store/coverage.py) reads a farm's ingest messages by device time: without this index
-- every credit decision scanned the whole message ledger.
CREATE INDEX IF NOT EXISTS ingest_messages_farm_time_idx ON ingest_messages (farm_id, device_time);
