"""Livestock detection and counting: our own model, counting modes, evidence, evaluation.

Importing this package is light: torch and ultralytics load only when a model is loaded.
"""

from vision.counting import LineCounter, WindowCount, tiled_detections, window_count
from vision.detections import Detections
from vision.errors import CalibrationError, DatasetError, ImageError, ModelLoadError, VisionError
from vision.evidence import hamming, phash, sha256_hex, thumbnail
from vision.images import decode_image, read_image
from vision.intervals import CountInterval, IntervalCalibration, IntervalMethod, ProfileCalibration, intervals_path
from vision.model import LivestockModel, ModelIdentity, default_model_path, file_sha256, load_thresholds
from vision.profile_counting import ProfileCount, ProfileCounter
from vision.species import species_of_names

__all__ = [
    "CalibrationError",
    "CountInterval",
    "DatasetError",
    "Detections",
    "ImageError",
    "IntervalCalibration",
    "IntervalMethod",
    "LineCounter",
    "LivestockModel",
    "ModelIdentity",
    "ModelLoadError",
    "ProfileCalibration",
    "ProfileCount",
    "ProfileCounter",
    "VisionError",
    "WindowCount",
    "decode_image",
    "default_model_path",
    "file_sha256",
    "hamming",
    "intervals_path",
    "load_thresholds",
    "phash",
    "read_image",
    "sha256_hex",
    "species_of_names",
    "thumbnail",
    "tiled_detections",
    "window_count",
]
