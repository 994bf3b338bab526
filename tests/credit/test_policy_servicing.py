"""The policy's [servicing] choices: allocation strategy and prepayment recalculation."""

import pytest

from credit import PolicyError, load_policy
from credit.policy import DEFAULT_POLICY_PATH

TEXT = DEFAULT_POLICY_PATH.read_text()
SERVICING_LAST_LINE = 'max_rate = "1.00"'


def _with(key: str, value: str) -> str:
    """The default policy with ``key = value`` added to its [servicing] table (ft-2025.1 states neither key)."""
    line = next(text for text in TEXT.splitlines() if text.startswith(SERVICING_LAST_LINE))
    return TEXT.replace(line, f"{line}\n{key} = {value}", 1)


def test_the_default_product_uses_the_standard_strategy_without_recalculation():
    policy = load_policy(TEXT)
    assert (policy.allocation_strategy, policy.prepayment_recalculation) == ("standard", "none")


def test_a_policy_without_the_keys_gets_the_defaults():
    assert "allocation_strategy" not in TEXT and "prepayment_recalculation" not in TEXT
    assert load_policy(TEXT).allocation_strategy == "standard"


@pytest.mark.parametrize(
    ("key", "value"), [("allocation_strategy", "early-payment"), ("prepayment_recalculation", "reduce-term")]
)
def test_a_product_picks_its_strategy_and_recalculation(key, value):
    policy = load_policy(_with(key, f'"{value}"'))
    assert getattr(policy, key) == value


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("allocation_strategy", '"early"', "standard, early-payment"),
        ("prepayment_recalculation", '"shorten"', "none, reduce-amount, reduce-term"),
        ("prepayment_recalculation", "3", "none, reduce-amount, reduce-term"),
    ],
)
def test_an_unknown_choice_is_refused_naming_the_key_and_the_choices(key, value, allowed):
    bad = _with(key, value)
    with pytest.raises(PolicyError, match=rf"servicing\.{key} = .*use one of {allowed}"):
        load_policy(bad)
