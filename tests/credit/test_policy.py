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
