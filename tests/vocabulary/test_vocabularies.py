"""Each vocabulary is the one every layer uses: docs, wire protocol, edge config, API, CLI, drivers."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from api.schemas import ConsentCreate, DeviceCreate, FarmCreate, LoanCreate, OrganizationCreate
from edge.config import DeviceSection
from edge.errors import SensorError
from edge.protocol import METRIC_RANGES as PROTOCOL_METRICS
from edge.protocol import StatusMessage
from edge.sensors import SimulatedDriver
from tests.vocabulary.test_database_checks import DEVICE_IDS
from vocabulary.crops import is_grassland_crop
from vocabulary.devices import is_device_id
from vocabulary.lending import DUE_COMPONENTS, SCHEDULE_KINDS, SEVERITY_RANK
from vocabulary.metrics import METRIC_RANGES, Metric
from vocabulary.organizations import CONSENT_SCOPES, ORGANIZATION_KINDS
from vocabulary.species import SPECIES, species_of_class_name, species_of_names


def test_the_protocol_checks_readings_against_the_vocabulary_itself():
    assert PROTOCOL_METRICS is METRIC_RANGES
    assert set(METRIC_RANGES) == set(Metric)
    for name, spec in METRIC_RANGES.items():  # units in the names: the suffix agrees with the unit
        suffix = {"degC": "_c", "%": "_pct", "L/min": "_l_min", "kg": "_kg", "deg": "_deg"}[spec.unit]
        assert name.endswith(suffix), (name, spec.unit)


def test_simulated_driver_produces_every_metric_inside_its_range():
    driver = SimulatedDriver(seed=3)
    samples = [s for hour in range(24) for s in driver.read(now=datetime(2026, 5, 1, hour, tzinfo=UTC))]
    assert {s.metric for s in samples} == set(Metric)
    for s in samples:
        spec = METRIC_RANGES[s.metric]
        assert spec.low <= s.value <= spec.high, s
    with pytest.raises(SensorError, match="gps_lat_deg"):  # the list it offers names every metric
        driver.value("soil_ph", datetime(2026, 5, 1, tzinfo=UTC))


def test_class_names_map_to_species_case_blind():
    assert species_of_class_name(" Cow ") == "cattle" and species_of_class_name("chicken") == "poultry"
    assert species_of_class_name("person") is None
    assert species_of_names({0: "person", 14: "bird", 19: "cow", 20: "Sheep"}) == {
        14: "poultry",
        19: "cattle",
        20: "sheep",
    }


def _envelope(device_id: str) -> dict:
    return {
        "schema_version": 1,
        "message_id": str(uuid.uuid4()),
        "farm_id": str(uuid.uuid4()),
        "device_id": device_id,
        "seq": 0,
        "device_time": "2026-05-01T12:00:00Z",
        "signature": "A" * 88,
        "kind": "status",
        "body": {"online": True},
    }


def _accepts(model, **data) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("device_id", "valid"), DEVICE_IDS)
def test_one_device_id_rule_in_protocol_edge_config_and_api(device_id, valid):
    import json

    try:
        StatusMessage.model_validate_json(json.dumps(_envelope(device_id)))
        wire = True
    except ValidationError:
        wire = False
    config = _accepts(DeviceSection, farm_id=str(uuid.uuid4()), device_id=device_id)
    api = _accepts(DeviceCreate, id=device_id, public_key_hex="ab" * 32)
    assert (wire, config, api, is_device_id(device_id)) == (valid, valid, valid, valid)


def test_cli_refuses_a_bad_device_id_in_one_line_naming_the_option():
    done = subprocess.run(
        [sys.executable, "-m", "farmtrust.cli", "edge", "register", "--device-id", "barn 1",
         "--farm-id", str(uuid.uuid4()), "--public-key", "ab" * 32],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "--device-id" in out and "'barn 1'" in out and "Traceback" not in out


def test_api_bodies_take_their_allowed_values_from_the_vocabulary():
    for kind in ORGANIZATION_KINDS:
        assert OrganizationCreate(kind=kind, name="x").kind == kind
    assert not _accepts(OrganizationCreate, kind="bank", name="x")
    common = {"decision_id": str(uuid.uuid4()), "principal": "100", "rate": "0.1", "months": 6, "start": "2026-05-01"}
    for kind in SCHEDULE_KINDS:
        assert LoanCreate(**common, kind=kind).kind == kind
    assert LoanCreate(**common).kind == "seasonal"
    assert not _accepts(LoanCreate, **common, kind="balloon")
    consent = {"lender_id": str(uuid.uuid4()), "expires_at": "2027-01-01T00:00:00Z"}
    assert ConsentCreate(**consent).scope == list(CONSENT_SCOPES) == ["records", "credit"]
    assert not _accepts(ConsentCreate, **consent, scope=["everything"])
    assert FarmCreate(name="f", declared_herd={s: 1 for s in SPECIES}).declared_herd == {s: 1 for s in SPECIES}
    with pytest.raises(ValidationError, match="unknown species 'llama'"):
        FarmCreate(name="f", declared_herd={"llama": 3})
    schema = OrganizationCreate.model_json_schema()
    assert set(schema["$defs"]["OrganizationKind"]["enum"]) == {"cooperative", "lender", "admin"}


def test_lending_terms_hand_checked():
    assert SCHEDULE_KINDS == ("annuity", "equal-principal", "flat", "seasonal")
    assert DUE_COMPONENTS == ("penalty", "fees", "interest", "principal")
    assert sorted(SEVERITY_RANK, key=SEVERITY_RANK.get) == ["info", "warning", "high", "critical"]


@pytest.mark.parametrize(
    ("crop", "grassland"),
    [("Pasture", True), (" permanent grassland ", True), ("meadow", True), ("maize", False), (None, False)],
)
def test_grassland_crops(crop, grassland):
    from credit.record import FieldRecord
    from remote_sensing import extract

    assert is_grassland_crop(crop) is grassland
    assert FieldRecord("f", crop, None).is_grassland is grassland
    assert extract.is_grassland_crop(crop) is grassland
