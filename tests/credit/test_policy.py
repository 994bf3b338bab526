import pytest

from credit import D, PolicyError, load_policy
from credit.policy import DEFAULT_POLICY_PATH

TEXT = DEFAULT_POLICY_PATH.read_text()


def test_default_policy_parses_and_names_its_text():
    p = load_policy(DEFAULT_POLICY_PATH)
    assert p.version == "ft-2025.1" and p.currency == "KES"
    assert p.crop_terms("maize").yield_for("Nakuru") == D("3.2")
    assert p.crop_terms("maize").yield_for("elsewhere") == D("2.5")
    assert p.band_for(449).multiplier == 0 and p.band_for(700).multiplier == 1
    assert load_policy(TEXT).sha256 == p.sha256


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        (
            'debt_service_ratio = "0.35"',
            'debt_service_ratio = "1.35"',
            r"limit.debt_service_ratio = 1.35 is out of range",
        ),
        ('herd_ltv = "0.50"', "herd_ltv = 0.5", r"limit.herd_ltv = 0.5 is a float; quote it"),
        ('step = "1000"', 'step = "0"', r"limit.step = 0"),
        ("[livestock.horse]", "[livestock.llama]", r"\[livestock.llama\] names an unknown species"),
        ('name = "income_sources"', 'name = "shoe_size"', r"'shoe_size' is unknown"),
        (
            'bins = [{ below = "2", points = 0 }, { below = "3", points = 30 }, { points = 50 }]',
            'bins = [{ below = "2", points = 50 }, { below = "3", points = 30 }, { points = 0 }]',
            r"must rise",
        ),
        (
            'allocation_order = ["penalty", "fees", "interest", "principal"]',
            'allocation_order = ["principal"]',
            r"servicing.allocation_order",
        ),
        ('version = "ft-2025.1"', "", r"policy field version is missing"),
        ("[window]", "[window", r"not valid TOML"),
    ],
)
def test_bad_policy_names_the_field(old, new, match):
    assert old in TEXT
    with pytest.raises(PolicyError, match=match):
        load_policy(TEXT.replace(old, new, 1))


def test_unknown_crop_lists_the_known_ones():
    with pytest.raises(PolicyError, match=r"unknown crop 'rice'.*beans, grass, maize"):
        load_policy(TEXT).crop_terms("rice")


@pytest.mark.parametrize(
    ("group", "line", "name"),
    [
        ("fraud", 'refer_at = "0.60"', "refer_at"),
        ("early_warning", None, "silent_hours"),
        ("revolving", None, "shrink_share"),
    ],
)
def test_a_policy_missing_a_parameter_is_refused_when_it_loads(group, line, name):
    """Before: a policy without [fraud] refer_at loaded, and decide_limit failed later with a bare KeyError."""
    lines = TEXT.splitlines()
    index = next(i for i, text in enumerate(lines) if text.startswith(line or f"{name} ="))
    text = "\n".join(lines[:index] + lines[index + 1 :])
    with pytest.raises(PolicyError, match=rf"\[{group}\] lacks {name}"):
        load_policy(text)


def test_an_unknown_parameter_is_refused():
    with pytest.raises(PolicyError, match=r"\[fraud\] names unknown parameters \['refer_above'\]"):
        load_policy(TEXT.replace("[fraud]\n", '[fraud]\nrefer_above = "0.5"\n', 1))


@pytest.mark.parametrize("distance", ["16", "-1", '"2.5"'])
def test_a_phash_distance_the_matcher_cannot_honour_is_refused(distance):
    with pytest.raises(PolicyError, match=r"fraud.recycled_phash_max_distance"):
        load_policy(TEXT.replace("recycled_phash_max_distance = 2", f"recycled_phash_max_distance = {distance}", 1))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'refer_at = "0.60"',
            'refer_at = "1.5"',
            "policy field fraud.refer_at = 1.5 is out of range; use a value from 0 to 1",
        ),
        (
            "jump_days = 7",
            "jump_days = 0",
            "policy field fraud.jump_days = 0 is out of range; use a whole number from 1 to 730",
        ),
        (
            "heat_days = 2",
            "heat_days = 9",
            "early_warning.heat_days = 9 is out of range; use a whole number from 1 to 7",
        ),
        (
            'herd_drop_share = "0.20"',
            'herd_drop_share = "0"',
            "early_warning.herd_drop_share = 0 is out of range; use a value above 0 and at most 1",
        ),
        (
            "missed_instalment_dpd = 1",
            "missed_instalment_dpd = 0",
            "early_warning.missed_instalment_dpd = 0 is out of range; use a whole number from 1 to 365",
        ),
        ('shrink_share = "0.25"', 'shrink_share = "1.25"', "revolving.shrink_share = 1.25 is out of range"),
        ('growth_share = "0.10"', 'growth_share = "-0.10"', "revolving.growth_share = -0.10 is out of range"),
        (
            "refresh_days = 7",
            'refresh_days = "7.5"',
            "revolving.refresh_days = 7.5 is out of range; use a whole number",
        ),
    ],
)
def test_a_parameter_out_of_its_range_is_one_error_naming_the_key_and_the_range(old, new, message):
    """Issue #14: a bad [fraud], [early_warning] or [revolving] value loaded and misbehaved later."""
    assert old in TEXT
    with pytest.raises(PolicyError) as caught:
        load_policy(TEXT.replace(old, new, 1))
    assert message in str(caught.value) and "\n" not in str(caught.value)
