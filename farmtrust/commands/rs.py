"""``farmtrust rs``: cropped area per field from satellite scenes, checked against declarations."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from farmtrust.commands._common import DbUrl, database_url
from farmtrust.console import console, err_console

if TYPE_CHECKING:
    from remote_sensing.decision import Thresholds
    from remote_sensing.result import FieldCropArea
    from remote_sensing.scenes import Scene

app = typer.Typer(help="Remote sensing: cropped area per field from satellite scenes.", no_args_is_help=True)

SceneOpt = Annotated[
    list[Path],
    typer.Option("--scene", help="STAC item, ItemCollection (a season) or GeoTIFF; repeat for more"),
]
BandsOpt = Annotated[str | None, typer.Option("--bands", help="GeoTIFF band map, e.g. red=3,nir=4[,blue=1,scl=5]")]
DateOpt = Annotated[
    datetime | None, typer.Option("--date", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="GeoTIFF acquisition date")
]
ScaleOpt = Annotated[float, typer.Option("--scale", help="GeoTIFF reflectance = DN x scale (0.0001 for S2 L2A DNs)")]
SeasonStart = Annotated[datetime | None, typer.Option("--season-start", formats=["%Y-%m-%d"], help="first date kept")]
SeasonEnd = Annotated[datetime | None, typer.Option("--season-end", formats=["%Y-%m-%d"], help="last date kept")]
BareOpt = Annotated[float, typer.Option("--bare-ndvi-max", help="NDVI at or below which a date counts as bare soil")]
GreenOpt = Annotated[float, typer.Option("--green-ndvi-min", help="NDVI at or above which a date counts as green")]
MinClearOpt = Annotated[int, typer.Option("--min-clear-observations", help="clear dates a field needs")]
IdOpt = Annotated[str | None, typer.Option("--id-field", help="field id column; default field_id, else the feature id")]


def _thresholds(bare: float, green: float, min_clear: int) -> Thresholds:
    from remote_sensing.decision import Thresholds

    return Thresholds(bare_ndvi_max=bare, green_ndvi_min=green, min_clear_observations=min_clear)


def _scenes(sources: list[Path], bands: str | None, when: datetime | None, scale: float, start: datetime | None,
            end: datetime | None) -> list[Scene]:  # fmt: skip
    from remote_sensing.errors import SceneError
    from remote_sensing.scenes import load_scenes, parse_band_map, select_season

    if not sources:
        raise SceneError("No --scene given; pass a STAC item, an ItemCollection or a GeoTIFF with --scene.")
    band_map = parse_band_map(bands) if bands else None
    scenes = load_scenes(sources, band_map=band_map, acquired_at=when, scale=scale)
    return select_season(scenes, start=start.date() if start else None, end=end.date() if end else None)


@contextmanager
def _dask_client(use_dask: bool, scheduler: str | None) -> Iterator[object | None]:
    if not use_dask and not scheduler:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


def _run(fields: list, scenes: list[Scene], thresholds: Thresholds, client: object | None) -> list[FieldCropArea]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from remote_sensing.extract import iter_field_stats

    order = {f.field_id: i for i, f in enumerate(fields)}
    results = []
    with Progress(
        TextColumn("fields"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console
    ) as progress:
        task = progress.add_task("fields", total=len(fields))
        for r in iter_field_stats(
            fields=fields,
            scenes=scenes,
            thresholds=thresholds,
            client=client,
            on_progress=lambda n: progress.advance(task, n),
        ):
            results.append(r)
    return sorted(results, key=lambda r: order[r.field_id])


def _print_table(results: list[FieldCropArea]) -> None:
    from rich.table import Table

    def f(v: float | None, d: int = 2) -> str:
        return "-" if v is None else f"{v:.{d}f}"

    table = Table("field", "area ha", "cropped ha", "grass ha", "declared ha", "ratio [band]", "clear", "flags")
    for r in results:
        band = "-" if r.ratio is None else f"{r.ratio:.2f} [{r.ratio_low:.2f}-{r.ratio_high:.2f}]"
        table.add_row(
            r.field_id,
            f(r.area_ha),
            f(r.cropped_ha),
            f(r.grassland_ha),
            f(r.declared_ha),
            band,
            str(r.clear_observations),
            ", ".join(r.flags),
        )
    console.print(table)


@app.command("crop-area")
def crop_area(
    fields_path: Annotated[Path, typer.Option("--fields", help="field boundaries (GeoJSON, GPKG, SHP, GeoParquet)")],
    scene: SceneOpt = [],  # noqa: B006 (typer reads the default, never mutates it)
    id_field: IdOpt = None,
    declared_area_field: Annotated[str | None, typer.Option(help="declared area (ha) column")] = None,
    declared_crop_field: Annotated[str | None, typer.Option(help="declared crop column")] = None,
    bands: BandsOpt = None,
    date: DateOpt = None,
    scale: ScaleOpt = 1.0,
    season_start: SeasonStart = None,
    season_end: SeasonEnd = None,
    out: Annotated[Path | None, typer.Option("--out", help="write results: .geojson, .parquet or .gpkg")] = None,
    quicklook: Annotated[
        Path | None, typer.Option("--quicklook", help="write a PNG: NDVI with flagged outlines")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array, one object per field")] = False,
    bare_ndvi_max: BareOpt = 0.30,
    green_ndvi_min: GreenOpt = 0.60,
    min_clear_observations: MinClearOpt = 3,
    use_dask: Annotated[bool, typer.Option("--dask", help="run blocks on a local Dask cluster")] = False,
    dask_scheduler: Annotated[str | None, typer.Option("--dask-scheduler", help="a Dask scheduler address")] = None,
    store: Annotated[bool, typer.Option("--store", help="also store the rows in crop_area_estimates")] = False,
    farm_id: Annotated[str | None, typer.Option("--farm-id", help="farm the fields belong to (with --store)")] = None,
    db_url: DbUrl = None,
) -> None:
    """Estimate cropped and grassland area per field over a season of scenes."""
    from remote_sensing.export import render_quicklook, write_results
    from remote_sensing.fields import read_fields

    thresholds = _thresholds(bare_ndvi_max, green_ndvi_min, min_clear_observations)
    fields = read_fields(
        fields_path, id_field=id_field, declared_area_field=declared_area_field, declared_crop_field=declared_crop_field
    )
    scenes = _scenes(scene, bands, date, scale, season_start, season_end)
    with _dask_client(use_dask, dask_scheduler) as client:
        results = _run(fields, scenes, thresholds, client)
    if out:
        write_results(results=results, fields=fields, path=out)
    if quicklook:
        render_quicklook(results=results, fields=fields, scenes=scenes, path=quicklook)
    if store:
        from store.db import connect
        from usecases.crop_areas import record_crop_areas

        with database_url(db_url) as url, connect(url) as conn:
            record_crop_areas(
                conn,
                results=results,
                farm_id=farm_id,
                season_start=season_start.date() if season_start else None,
                season_end=season_end.date() if season_end else None,
            )
            conn.commit()
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in results]) + "\n")
    else:
        _print_table(results)


@app.command("eval")
def evaluate(
    reference: Annotated[
        Path, typer.Option("--reference", help="reference parcels with is_annual_crop and ref_area_ha columns")
    ],
    scene: SceneOpt = [],  # noqa: B006
    id_field: IdOpt = "parcel_id",
    season_start: SeasonStart = None,
    season_end: SeasonEnd = None,
    bare_ndvi_max: BareOpt = 0.30,
    green_ndvi_min: GreenOpt = 0.60,
    min_clear_observations: MinClearOpt = 3,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures and rows as JSON")] = False,
) -> None:
    """Compare observed cropped area with reference parcels: MAE in ha and %, and per-field agreement."""
    from remote_sensing.evaluate import accuracy
    from remote_sensing.extract import field_stats
    from remote_sensing.fields import read_fields
    from remote_sensing.reference import read_reference

    fields = read_fields(reference, id_field=id_field)
    ref = read_reference(reference, id_field=id_field or "parcel_id")
    scenes = _scenes(scene, None, None, 1.0, season_start, season_end)
    thresholds = _thresholds(bare_ndvi_max, green_ndvi_min, min_clear_observations)
    acc = accuracy(results=field_stats(fields=fields, scenes=scenes, thresholds=thresholds), reference=ref)
    if as_json:
        sys.stdout.write(json.dumps({**acc.summary(), "rows": list(acc.rows)}) + "\n")
        return
    from rich.table import Table

    table = Table("field", "label", "truth ha", "cropped ha", "grass ha", "error ha", "agrees")
    for row in acc.rows:
        table.add_row(
            row["field_id"],
            row["label"],
            f"{row['true_cropped_ha']:.2f}",
            f"{row['cropped_ha']:.2f}",
            f"{row['grassland_ha']:.2f}",
            f"{row['error_ha']:+.2f}",
            "yes" if row["agrees"] else "no",
        )
    console.print(table)
    console.print(json.dumps(acc.summary()))


@app.command("farm")
def farm(
    farm_id: Annotated[str, typer.Argument(help="the farm's id (UUID); its fields come from the fields table")],
    scene: SceneOpt = [],  # noqa: B006
    season_start: SeasonStart = None,
    season_end: SeasonEnd = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array, one object per field")] = False,
    db_url: DbUrl = None,
) -> None:
    """Estimate and store cropped area for every field of FARM_ID."""
    from store.db import connect
    from usecases.crop_areas import estimate_farm_crop_areas

    scenes = _scenes(scene, None, None, 1.0, None, None)
    with database_url(db_url) as url, connect(url) as conn:
        results = estimate_farm_crop_areas(
            conn,
            farm_id=farm_id,
            scenes=scenes,
            season_start=season_start.date() if season_start else None,
            season_end=season_end.date() if season_end else None,
        )
        conn.commit()
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in results]) + "\n")
    else:
        _print_table(results)
