"""Remote sensing: cropped and grassland area per field from a season of satellite scenes.

Example:
    >>> from remote_sensing import field_stats, load_scenes, read_fields  # doctest: +SKIP
    >>> results = field_stats(fields=read_fields(path), scenes=load_scenes([items_json]))  # doctest: +SKIP
"""

from remote_sensing.decision import LandClass, ProfileAccumulator, Thresholds
from remote_sensing.errors import (
    BandMapError,
    FieldsError,
    RemoteSensingError,
    SceneError,
    SceneMismatchError,
    SceneNotFoundError,
    ThresholdsError,
)
from remote_sensing.evaluate import Accuracy, ReferenceParcel, accuracy
from remote_sensing.extract import field_stats, iter_field_stats
from remote_sensing.fields import FieldBoundary, fields_from_geojson, geometries_in_crs, read_fields
from remote_sensing.result import DatePoint, FieldCropArea, Flag
from remote_sensing.scenes import (
    Scene,
    SceneBand,
    load_scenes,
    parse_band_map,
    scene_from_geotiff,
    scenes_from_stac,
    select_season,
)

__all__ = [
    "Accuracy",
    "BandMapError",
    "DatePoint",
    "FieldBoundary",
    "FieldCropArea",
    "FieldsError",
    "Flag",
    "LandClass",
    "ProfileAccumulator",
    "ReferenceParcel",
    "RemoteSensingError",
    "Scene",
    "SceneBand",
    "SceneError",
    "SceneMismatchError",
    "SceneNotFoundError",
    "Thresholds",
    "ThresholdsError",
    "accuracy",
    "field_stats",
    "fields_from_geojson",
    "geometries_in_crs",
    "iter_field_stats",
    "load_scenes",
    "parse_band_map",
    "read_fields",
    "scene_from_geotiff",
    "scenes_from_stac",
    "select_season",
]
