"""The audit entry signer tests append with: a fixed Ed25519 key, so failures reproduce."""

import hashlib

from credit.entry_signing import Ed25519EntrySigner

TEST_SIGNER = Ed25519EntrySigner(hashlib.sha256(b"farmtrust tests: audit entry signer").digest())
"""Signs every entry tests append; its public key is ``TEST_SIGNER.public_key``."""

OTHER_SIGNER = Ed25519EntrySigner(hashlib.sha256(b"farmtrust tests: not the log's key").digest())
"""A key that is not the log's: entries it signs are forgeries."""
