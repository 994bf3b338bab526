-- Ingest hardening: one frame row per frame message (blobs shared, recycled bytes flagged) and device key epochs.

-- Frames: the blob stays content-addressed (frame_dir/ab/abcdef....jpg, stored once), but every frame
-- message gets its own row, so vision counts each one. Bytes another farm sent first are flagged.
ALTER TABLE frames DROP CONSTRAINT frames_pkey;
ALTER TABLE frames ADD PRIMARY KEY (message_id);
CREATE INDEX frames_sha256_idx ON frames (sha256);
ALTER TABLE frames ADD COLUMN recycled_of uuid;  -- message_id of the first frame of another farm with these bytes

-- Key epochs: every key a device was registered with, numbered from 0. Rotating the key starts a new
-- epoch with a sequence of its own; sequence and replay checks are per (device, epoch). Old keys stay
-- here, so messages stored under them remain verifiable.
ALTER TABLE devices ADD COLUMN key_epoch integer NOT NULL DEFAULT 0;

CREATE TABLE device_keys (
    device_id    text NOT NULL REFERENCES devices (id),
    key_epoch    integer NOT NULL CHECK (key_epoch >= 0),
    public_key   bytea NOT NULL CHECK (length(public_key) = 32),  -- raw Ed25519 public key
    valid_from   timestamptz NOT NULL DEFAULT now(),
    valid_until  timestamptz,                                       -- when the next key replaced it
    PRIMARY KEY (device_id, key_epoch)
);
INSERT INTO device_keys (device_id, key_epoch, public_key, valid_from) SELECT id, 0, public_key, created_at FROM devices;

-- Whatever path changes devices.public_key (registration, the API's rotation, SQL), the epoch follows.
CREATE FUNCTION ft_device_key_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.key_epoch := 0;
    ELSIF NEW.public_key IS DISTINCT FROM OLD.public_key THEN
        NEW.key_epoch := OLD.key_epoch + 1;
    ELSE
        NEW.key_epoch := OLD.key_epoch;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER devices_key_epoch BEFORE INSERT OR UPDATE OF public_key, key_epoch ON devices
    FOR EACH ROW EXECUTE FUNCTION ft_device_key_epoch();

CREATE FUNCTION ft_device_key_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.key_epoch = OLD.key_epoch THEN
            RETURN NULL;
        END IF;
        UPDATE device_keys SET valid_until = now() WHERE device_id = OLD.id AND key_epoch = OLD.key_epoch;
    END IF;
    INSERT INTO device_keys (device_id, key_epoch, public_key) VALUES (NEW.id, NEW.key_epoch, NEW.public_key);
    RETURN NULL;
END $$;
CREATE TRIGGER devices_key_history AFTER INSERT OR UPDATE OF public_key ON devices
    FOR EACH ROW EXECUTE FUNCTION ft_device_key_history();

ALTER TABLE ingest_messages ADD COLUMN key_epoch integer NOT NULL DEFAULT 0;
DROP INDEX ingest_messages_device_seq_idx;
CREATE INDEX ingest_messages_device_seq_idx ON ingest_messages (device_id, key_epoch, seq);

ALTER TABLE device_seq ADD COLUMN key_epoch integer NOT NULL DEFAULT 0;
ALTER TABLE device_seq DROP CONSTRAINT device_seq_pkey;
ALTER TABLE device_seq ADD PRIMARY KEY (device_id, key_epoch);

ALTER TABLE device_gaps ADD COLUMN key_epoch integer NOT NULL DEFAULT 0;
ALTER TABLE device_gaps DROP CONSTRAINT device_gaps_pkey;
ALTER TABLE device_gaps ADD PRIMARY KEY (device_id, key_epoch, seq_from);
DROP INDEX device_gaps_open_idx;
CREATE INDEX device_gaps_open_idx ON device_gaps (device_id, key_epoch) WHERE closed_at IS NULL;
