"""Errors raised by remote sensing; each message names the input, the value and the fix.

Exception tree::

    RemoteSensingError
    ├── FieldsError            (ValueError)         field boundaries unreadable, no CRS, unknown id field
    ├── SceneError
    │   ├── SceneNotFoundError (FileNotFoundError)  a scene file or asset does not exist
    │   ├── BandMapError       (ValueError)         a band map or asset set lacks red/nir, or names a missing band
    │   └── SceneMismatchError (ValueError)         the bands of one scene disagree in CRS or footprint
    └── ThresholdsError        (ValueError)         decision thresholds out of range or inconsistent
"""

from __future__ import annotations


class RemoteSensingError(Exception):
    """Base class of every remote-sensing error; its message says what happened and what to do."""


class FieldsError(RemoteSensingError, ValueError):
    """The field boundaries cannot be used (unreadable file, missing CRS, unknown id field)."""


class SceneError(RemoteSensingError):
    """A scene cannot be used."""


class SceneNotFoundError(SceneError, FileNotFoundError):
    """A scene file, STAC item or asset does not exist."""


class BandMapError(SceneError, ValueError):
    """The band map or the STAC assets lack a band that is needed, or name one that does not exist."""


class SceneMismatchError(SceneError, ValueError):
    """The bands of one scene disagree: different CRS, or footprints that do not overlap."""


class ThresholdsError(RemoteSensingError, ValueError):
    """A decision threshold is out of range, or thresholds contradict each other."""
