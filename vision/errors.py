"""Errors raised by vision.

Exception tree::

    VisionError
    ├── ModelLoadError (FileNotFoundError)   the weights file is missing or not a detector
    ├── DatasetError (ValueError)            a dataset folder or yaml is malformed
    ├── ImageError (ValueError)              an image is corrupt, empty, truncated or too large
    ├── SourceError (ValueError)             a count source (folder, video, stream) cannot be read
    └── CalibrationError (ValueError)        an interval calibration is malformed or lacks a camera profile
"""

from __future__ import annotations


class VisionError(Exception):
    """Base class of every vision error; the message names the file and the problem."""


class ModelLoadError(VisionError, FileNotFoundError):
    """The weights file is missing, unreadable, or not a detection model."""


class DatasetError(VisionError, ValueError):
    """A dataset folder or yaml is malformed."""


class ImageError(VisionError, ValueError):
    """An image is corrupt, empty, truncated, or over the pixel limit.

    Attributes:
        reason: a short code for quarantine rows: ``empty``, ``corrupt``, ``truncated``, ``oversize``,
            ``unreadable``.
    """

    def __init__(self, message: str, *, reason: str = "corrupt") -> None:
        """Keep the message and the quarantine reason code."""
        super().__init__(message)
        self.reason = reason


class SourceError(VisionError, ValueError):
    """A count source (file, folder, video, RTSP URL) does not exist or cannot be opened."""


class CalibrationError(VisionError, ValueError):
    """A count-interval calibration is malformed, unpaired, or has no entry for a camera profile."""
