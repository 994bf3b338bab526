"""Scenes as they arrive: STAC items / ItemCollections with Earth Search asset keys, or a plain GeoTIFF.

A :class:`Scene` is one acquisition: an id, a UTC time and the bands it offers (``red``, ``nir`` and
optionally ``blue``, ``green``, ``scl``, ``qa_pixel``), each a file plus band index with the scale,
offset and nodata of the STAC ``raster`` extension. Nothing is read here but metadata.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from remote_sensing.errors import BandMapError, SceneError, SceneNotFoundError

__all__ = [
    "BAND_NAMES",
    "Scene",
    "SceneBand",
    "load_scenes",
    "parse_band_map",
    "scene_from_geotiff",
    "scenes_from_stac",
    "select_season",
]

log = logging.getLogger(__name__)

BAND_NAMES = ("red", "nir", "blue", "green", "scl", "qa_pixel")
"""Band names FarmTrust uses; ``red`` and ``nir`` are required."""

# Asset keys seen in STAC APIs (Earth Search v1 and v0, Planetary Computer, Landsat C2) -> our band name.
_ASSET_KEYS: dict[str, tuple[str, ...]] = {
    "red": ("red", "B04", "b04"),
    "nir": ("nir", "nir08", "B08", "b08"),
    "blue": ("blue", "B02", "b02"),
    "green": ("green", "B03", "b03"),
    "scl": ("scl", "SCL"),
    "qa_pixel": ("qa_pixel", "QA_PIXEL"),
}
_TIFF_SUFFIXES = (".tif", ".tiff", ".vrt")


@dataclass(frozen=True, kw_only=True)
class SceneBand:
    """One band of a scene: where it is, and how its digital numbers become reflectance.

    Attributes:
        href: local path or URL GDAL can open.
        index: 1-based band index in that file.
        scale: reflectance = DN * scale + offset.
        offset: see ``scale``.
        nodata: DN meaning "no data", or None.
    """

    href: str
    index: int = 1
    scale: float = 1.0
    offset: float = 0.0
    nodata: float | None = None


@dataclass(frozen=True, kw_only=True)
class Scene:
    """One acquisition with its bands (``red`` and ``nir`` always present)."""

    scene_id: str
    acquired_at: datetime
    bands: dict[str, SceneBand]

    @property
    def mask_band(self) -> str | None:
        """The cloud-mask band this scene offers: ``scl``, ``qa_pixel``, or None."""
        return next((name for name in ("scl", "qa_pixel") if name in self.bands), None)


def _is_url(href: str) -> bool:
    return "://" in href or href.startswith("/vsi")


def _resolve(href: str, base: Path) -> str:
    if _is_url(href) or Path(href).is_absolute():
        return href
    return str((base / href).resolve())


def _band_from_asset(asset: dict[str, Any], base: Path) -> SceneBand:
    raster = (asset.get("raster:bands") or [{}])[0]
    return SceneBand(
        href=_resolve(str(asset["href"]), base),
        scale=float(raster.get("scale", 1.0) or 1.0),
        offset=float(raster.get("offset", 0.0) or 0.0),
        nodata=raster.get("nodata"),
    )


def _scene_from_item(item: dict[str, Any], base: Path, source: Path) -> Scene:
    import pystac

    try:
        parsed = pystac.Item.from_dict(item, preserve_dict=True)
    except Exception as exc:  # pystac raises several types for malformed items
        raise SceneError(f"STAC item in {source} is not valid ({exc}); give a STAC item or ItemCollection.") from None
    when = parsed.datetime or parsed.common_metadata.start_datetime
    if when is None:
        raise SceneError(f"STAC item {parsed.id!r} in {source} has no datetime; set properties.datetime.")
    assets = item.get("assets", {})
    bands: dict[str, SceneBand] = {}
    for name, keys in _ASSET_KEYS.items():
        key = next((k for k in keys if k in assets), None)
        if key is not None:
            bands[name] = _band_from_asset(assets[key], base)
    missing = [name for name in ("red", "nir") if name not in bands]
    if missing:
        raise BandMapError(
            f"STAC item {parsed.id!r} in {source} has no asset for {', '.join(missing)} "
            f"(assets: {', '.join(sorted(assets)) or 'none'}); expected Earth Search keys such as 'red' and 'nir'."
        )
    return Scene(scene_id=parsed.id, acquired_at=when.astimezone(UTC), bands=bands)


def scenes_from_stac(path: Path) -> list[Scene]:
    """Read a STAC item or an ItemCollection (GeoJSON FeatureCollection of items) from ``path``.

    Relative asset hrefs are resolved against the folder of ``path``.

    Raises:
        SceneNotFoundError: ``path`` does not exist.
        SceneError: the file is not a STAC item or collection.
        BandMapError: an item lacks a red or nir asset.
    """
    if not path.is_file():
        raise SceneNotFoundError(f"Scene {path} does not exist; pass a STAC item, ItemCollection or GeoTIFF.")
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SceneError(f"Scene {path} is not JSON ({exc}); pass a STAC item or ItemCollection.") from None
    if doc.get("type") == "FeatureCollection":
        items = doc.get("features", [])
    elif doc.get("type") == "Feature":
        items = [doc]
    else:
        raise SceneError(f"Scene {path} has type {doc.get('type')!r}; expected a STAC Feature or FeatureCollection.")
    scenes = [_scene_from_item(item, path.parent, path) for item in items]
    log.info("Read %d STAC item(s) from %s", len(scenes), path)
    return scenes


def parse_band_map(text: str) -> dict[str, int]:
    """Parse ``red=3,nir=4[,blue=1,...]`` into band name -> 1-based index.

    Raises:
        BandMapError: the text is malformed, names an unknown band, or lacks red or nir.
    """
    mapping: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, index = part.partition("=")
        name = name.strip().lower()
        if not sep or not index.strip().isdigit() or int(index) < 1:
            raise BandMapError(f"--bands entry {part!r} is not NAME=INDEX; write e.g. --bands red=3,nir=4.")
        if name not in BAND_NAMES:
            raise BandMapError(f"--bands names unknown band {name!r}; use {', '.join(BAND_NAMES)}.")
        mapping[name] = int(index)
    missing = [n for n in ("red", "nir") if n not in mapping]
    if missing:
        raise BandMapError(f"--bands {text!r} lacks {', '.join(missing)}; write e.g. --bands red=3,nir=4.")
    return mapping


def scene_from_geotiff(
    path: Path, *, bands: dict[str, int], acquired_at: datetime | date, scale: float = 1.0, offset: float = 0.0
) -> Scene:
    """Describe a plain multi-band GeoTIFF as one scene.

    Args:
        path: the GeoTIFF.
        bands: band name -> 1-based band index (see :func:`parse_band_map`).
        acquired_at: acquisition date or time (naive times are taken as UTC).
        scale: reflectance = DN * scale + offset (0.0001 for Sentinel-2 L2A DNs).
        offset: see ``scale``.

    Raises:
        SceneNotFoundError: ``path`` does not exist.
        BandMapError: an index exceeds the file's band count.
    """
    import rasterio

    if not _is_url(str(path)) and not Path(path).is_file():
        raise SceneNotFoundError(f"Scene {path} does not exist; pass an existing GeoTIFF.")
    with rasterio.open(path) as ds:
        count, nodata = ds.count, ds.nodata
    for name, index in bands.items():
        if index > count:
            raise BandMapError(
                f"--bands {name}={index} but {path} has {count} band(s); use an index from 1 to {count}."
            )
    when = acquired_at if isinstance(acquired_at, datetime) else datetime(*acquired_at.timetuple()[:3])
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return Scene(
        scene_id=f"{Path(path).stem}@{when.date().isoformat()}",
        acquired_at=when,
        bands={
            name: SceneBand(
                href=str(path),
                index=index,
                scale=1.0 if name in ("scl", "qa_pixel") else scale,
                offset=0.0 if name in ("scl", "qa_pixel") else offset,
                nodata=nodata,
            )
            for name, index in bands.items()
        },
    )


def load_scenes(
    sources: list[Path],
    *,
    band_map: dict[str, int] | None = None,
    acquired_at: datetime | date | None = None,
    scale: float = 1.0,
) -> list[Scene]:
    """Load every source (STAC JSON or GeoTIFF) into scenes sorted by time, dropping duplicate ids.

    Raises:
        SceneError: a source is unreadable, or a GeoTIFF comes without ``band_map`` or ``acquired_at``.
    """
    scenes: dict[str, Scene] = {}
    for source in sources:
        if source.suffix.lower() in _TIFF_SUFFIXES:
            if band_map is None:
                raise BandMapError(f"Scene {source} is a GeoTIFF; say which band is which with --bands red=3,nir=4.")
            if acquired_at is None:
                raise SceneError(f"Scene {source} is a GeoTIFF; give its acquisition date with --date YYYY-MM-DD.")
            found = [scene_from_geotiff(source, bands=band_map, acquired_at=acquired_at, scale=scale)]
        else:
            found = scenes_from_stac(source)
        for scene in found:
            scenes.setdefault(scene.scene_id, scene)
    return sorted(scenes.values(), key=lambda s: (s.acquired_at, s.scene_id))


def select_season(scenes: list[Scene], *, start: date | None = None, end: date | None = None) -> list[Scene]:
    """Keep the scenes acquired from ``start`` to ``end`` (inclusive, UTC dates); None means open-ended.

    Raises:
        SceneError: no scene falls in the season.
    """
    kept = [
        s
        for s in scenes
        if (start is None or s.acquired_at.date() >= start) and (end is None or s.acquired_at.date() <= end)
    ]
    if scenes and not kept:
        first, last = scenes[0].acquired_at.date(), scenes[-1].acquired_at.date()
        raise SceneError(
            f"No scene falls in the season {start} to {end}; the scenes run from {first} to {last}. "
            "Widen --season-start/--season-end."
        )
    return kept
