"""Accuracy on real ground truth: the repository's Flanders sample, plus the shared copies that exist."""

from datetime import date

import pytest

from remote_sensing import accuracy, field_stats, read_fields, scenes_from_stac, select_season
from remote_sensing.reference import read_reference
from tests.remote_sensing.samples import flanders_seasons


@pytest.mark.parametrize(("name", "parcels", "items", "start", "end"), flanders_seasons(), ids=lambda v: str(v)[:16])
def test_cropped_area_matches_lpis(name, parcels, items, start, end):
    fields = read_fields(parcels, id_field="parcel_id")
    scenes = select_season(scenes_from_stac(items), start=date.fromisoformat(start), end=date.fromisoformat(end))
    results = field_stats(fields=fields, scenes=scenes)
    acc = accuracy(results=results, reference=read_reference(parcels))
    assert acc.n_fields == len(fields) >= 19
    # measured 2018: MAE 0.18-0.19 ha (15.5-15.8 % of the mean parcel), total -10 to -11 %, agreement 0.63
    assert acc.mae_ha < 0.25, acc.summary()
    assert acc.mae_pct < 22, acc.summary()
    assert abs(acc.total_error_pct) < 20, acc.summary()
    assert acc.agreement >= 0.55, acc.summary()
    big = [row for row in acc.rows if row["ref_area_ha"] >= 1.0]
    assert sum(bool(row["agrees"]) for row in big) >= len(big) - 1, big  # large parcels: at most one miss
    assert all(r.clear_observations >= 20 for r in results)


def test_accuracy_arithmetic():
    from remote_sensing import FieldCropArea, ReferenceParcel

    def res(fid, cropped, area):
        return FieldCropArea(
            field_id=fid,
            area_ha=area,
            cropped_ha=cropped,
            grassland_ha=0.0,
            unknown_ha=0.0,
            covered_fraction=1.0,
            declared_ha=None,
            declared_crop=None,
            ratio=None,
            ratio_low=None,
            ratio_high=None,
            clear_observations=5,
        )

    ref = {
        "a": ReferenceParcel(field_id="a", is_annual_crop=True, ref_area_ha=2.0),
        "b": ReferenceParcel(field_id="b", is_annual_crop=False, ref_area_ha=2.0),
    }
    acc = accuracy(results=[res("a", 1.5, 2.0), res("b", 0.5, 2.0), res("x", 1.0, 1.0)], reference=ref)
    assert acc.n_fields == 2 and acc.mae_ha == pytest.approx(0.5) and acc.mae_pct == pytest.approx(25.0)
    assert acc.total_error_pct == pytest.approx(0.0) and acc.agreement == 1.0
    with pytest.raises(ValueError, match="check --id-field"):
        accuracy(results=[res("x", 1.0, 1.0)], reference=ref)
