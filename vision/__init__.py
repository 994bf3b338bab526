"""Livestock detection and counting: our own model, counting modes, evidence, evaluation.

Importing this package is light: torch and ultralytics load only when a model is loaded.
"""

from vision.counting import LineCounter, WindowCount, tiled_detections, window_count
from vision.detections import Detections
from vision.errors import DatasetError, ImageError, ModelLoadError, VisionError
from vision.evidence import hamming, phash, sha256_hex, thumbnail
from vision.images import decode_image, read_image
from vision.model import LivestockModel, ModelIdentity, default_model_path, file_sha256, load_thresholds
from vision.species import species_of_names

__all__ = [
    "DatasetError",
    "Detections",
    "ImageError",
    "LineCounter",
    "LivestockModel",
    "ModelIdentity",
    "ModelLoadError",
    "VisionError",
    "WindowCount",
    "decode_image",
    "default_model_path",
    "file_sha256",
    "hamming",
    "load_thresholds",
    "phash",
    "read_image",
    "sha256_hex",
    "species_of_names",
    "thumbnail",
    "tiled_detections",
    "window_count",
]
