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
