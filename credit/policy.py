"""The versioned credit policy: price tables, limit terms, scorecard bins and warning thresholds.

:func:`load_policy` parses TOML text (or a file the caller names) into a frozen :class:`Policy`; every
value is checked once here, so scoring never meets a malformed table. Money and ratios are Decimal
strings in the file (``"0.35"``), never floats.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from credit.canonical import sha256_hex
from credit.count_intervals import DEFAULT_MAX_RELATIVE_WIDTH
from credit.errors import MoneyError, PolicyError
from credit.money import ONE, ZERO, Amount, D
from vocabulary.cameras import CAMERA_PROFILES
from vocabulary.lending import ALLOCATION_STRATEGIES, DUE_COMPONENTS, PREPAYMENT_RECALCULATIONS, SEVERITIES
from vocabulary.species import SPECIES

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "policies" / "ft-2025.1.toml"

# Characteristics the scorecard knows, and whether a higher value is better.
CHARACTERISTICS: dict[str, bool] = {
    "coverage_days": True,
    "area_agreement": True,
    "herd_agreement": True,
    "income_sources": True,
    "max_days_past_due": False,
    "repayment_on_time_share": True,
    "verification_score": True,
}
VERIFICATION_COMPONENTS = (
    "area_agreement",
    "completeness",
    "count_precision",
    "coverage",
    "herd_agreement",
    "uptime",
    "water_consistency",
)

__all__ = [
    "CHARACTERISTICS",
    "DEFAULT_COUNT_PRECISION_WEIGHT",
    "DEFAULT_POLICY_PATH",
    "PARAMETERS",
    "Bin",
    "Bound",
    "Characteristic",
    "CropTerms",
    "LivestockTerms",
    "Policy",
    "ScoreBand",
    "load_policy",
]


@dataclass(frozen=True)
class LivestockTerms:
    """Valuation of one species: price per head, annual offtake share, net margin, plausible water draw."""

    price_per_head: Decimal
    annual_offtake: Decimal
    net_margin: Decimal
    water_l_per_head_day: tuple[Decimal, Decimal]


@dataclass(frozen=True)
class CropTerms:
    """Valuation of one crop: price per tonne, margin, yields by region, harvest months, monthly NDVI norm."""

    price_per_t: Decimal
    net_margin: Decimal
    harvest_months: tuple[int, ...]
    yield_t_ha: tuple[tuple[str, Decimal], ...]
    ndvi_norm: tuple[tuple[int, Decimal], ...]

    def yield_for(self, region: str | None) -> Decimal:
        """Expected yield in t/ha for ``region`` (case-insensitive), else the ``default`` row."""
        table = dict(self.yield_t_ha)
        return table.get((region or "").strip().lower(), table["default"])


@dataclass(frozen=True)
class ScoreBand:
    """Scores from ``min_score`` up multiply the limit by ``multiplier``."""

    min_score: int
    multiplier: Decimal


@dataclass(frozen=True)
class Bin:
    """Values below ``below`` (or any value, when None) earn ``points``."""

    below: Decimal | None
    points: int


@dataclass(frozen=True)
class Characteristic:
    """One scorecard line: its bins in ascending order, and the points when the input is missing."""

    name: str
    bins: tuple[Bin, ...]
    missing_points: int | None

    @property
    def max_points(self) -> int:
        """The most points this line can give."""
        return max(b.points for b in self.bins)

    def points_for(self, value: Decimal | None) -> int:
        """Points for ``value``: the first bin whose ``below`` exceeds it; ``missing_points`` for None."""
        if value is None:
            return self.missing_points if self.missing_points is not None else 0
        for b in self.bins:
            if b.below is None or value < b.below:
                return b.points
        return self.bins[-1].points


@dataclass(frozen=True)
class Policy:
    """A parsed credit policy; ``sha256`` names the exact text it came from."""

    version: str
    sha256: str
    currency: str
    effective_from: date
    window_days: int
    min_verified_days: int
    min_devices: int
    product_cap: Amount
    step: Decimal
    tenor_months: int
    debt_service_ratio: Decimal
    herd_ltv: Decimal
    crop_advance_rate: Decimal
    other_income_net_margin: Decimal
    score_bands: tuple[ScoreBand, ...]
    livestock: tuple[tuple[str, LivestockTerms], ...]
    crops: tuple[tuple[str, CropTerms], ...]
    verification_weights: tuple[tuple[str, Decimal], ...]
    fraud: tuple[tuple[str, Decimal], ...]
    base_points: int
    top_reasons: int
    characteristics: tuple[Characteristic, ...]
    early_warning: tuple[tuple[str, Decimal], ...]
    revolving: tuple[tuple[str, Decimal], ...]
    freeze_on: str
    allocation_order: tuple[str, ...]
    grace_days: int
    late_fee: Amount
    max_rate: Decimal
    text: str
    allocation_strategy: str = "standard"
    prepayment_recalculation: str = "none"
    max_relative_width: tuple[tuple[str, Decimal], ...] = tuple(DEFAULT_MAX_RELATIVE_WIDTH.items())
    """Per camera profile, the widest count interval per counted head before the camera is flagged."""

    def species_terms(self, species: str) -> LivestockTerms:
        """Valuation terms of ``species``.

        Raises:
            PolicyError: the policy has no ``[livestock.<species>]`` table.
        """
        table = dict(self.livestock)
        if species not in table:
            raise PolicyError(
                f"policy {self.version} has no [livestock.{species}] table; add its price_per_head and annual_offtake"
            )
        return table[species]

    def crop_terms(self, crop: str) -> CropTerms:
        """Valuation terms of ``crop``.

        Raises:
            PolicyError: the policy has no ``[crops.<crop>]`` table.
        """
        table = dict(self.crops)
        if crop not in table:
            raise PolicyError(
                f"unknown crop {crop!r}: policy {self.version} has no [crops.{crop}] table; "
                f"use one of {', '.join(sorted(table))} or add it to the policy"
            )
        return table[crop]

    def param(self, group: str, name: str) -> Decimal:
        """A numeric parameter of the ``fraud``, ``early_warning`` or ``revolving`` group."""
        table: dict[str, Decimal] = dict(getattr(self, group))
        return table[name]

    def band_for(self, score: int) -> ScoreBand:
        """The score band that ``score`` falls in."""
        band = self.score_bands[0]
        for b in self.score_bands:
            if score >= b.min_score:
                band = b
        return band


class _Reader:
    """Reads typed values out of the parsed TOML, naming the dotted path of any bad field."""

    def __init__(self, data: dict[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def sub(self, key: str) -> _Reader:
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise PolicyError(f"policy is missing the [{self.where(key)}] table")
        return _Reader(value, self.where(key))

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise PolicyError(f"policy field {self.where(key)} is missing; add it to the policy file")
        return self.data[key]

    def dec(self, key: str, *, low: Decimal = ZERO, high: Decimal | None = None) -> Decimal:
        value = self.raw(key)
        if isinstance(value, float):
            raise PolicyError(f'policy field {self.where(key)} = {value!r} is a float; quote it as a string: "{value}"')
        try:
            number = D(value, field=self.where(key))
        except MoneyError as exc:
            raise PolicyError(str(exc)) from None
        if number < low or (high is not None and number > high):
            upper = f" and <= {high}" if high is not None else ""
            raise PolicyError(f"policy field {self.where(key)} = {number} is out of range; use a value >= {low}{upper}")
        return number

    def int(self, key: str, *, low: int = 0, high: int | None = None) -> int:
        value = self.raw(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
            raise PolicyError(f"policy field {self.where(key)} = {value!r}; use a whole number >= {low}")
        return value

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise PolicyError(f"policy field {self.where(key)} = {value!r}; use a non-empty string")
        return value


def _bins(reader: _Reader, name: str, higher_is_better: bool) -> tuple[Bin, ...]:
    raw = reader.raw("bins")
    if not isinstance(raw, list) or not raw:
        raise PolicyError(f"policy field {reader.where('bins')} must be a non-empty list of {{below, points}}")
    bins = []
    for i, item in enumerate(raw):
        r = _Reader(item, f"{reader.where('bins')}[{i}]")
        below = r.dec("below", low=Decimal("-1e9")) if "below" in item else None
        bins.append(Bin(below, r.int("points", low=0)))
    for a, b in itertools.pairwise(bins):
        if a.below is None or (b.below is not None and b.below <= a.below):
            raise PolicyError(f"policy {reader.path} bins must ascend by 'below', with only the last bin open")
    points = [b.points for b in bins]
    ordered = points == sorted(points) if higher_is_better else points == sorted(points, reverse=True)
    if not ordered:
        direction = "rise" if higher_is_better else "fall"
        raise PolicyError(f"policy {reader.path} ({name}) points {points} must {direction} with the value")
    return tuple(bins)


def _livestock(reader: _Reader) -> tuple[tuple[str, LivestockTerms], ...]:
    out = []
    for species in sorted(reader.data):
        if species not in SPECIES:
            raise PolicyError(f"policy table [livestock.{species}] names an unknown species; use {', '.join(SPECIES)}")
        r = reader.sub(species)
        low, high = r.raw("water_l_per_head_day")
        water = (
            _Reader({"low": low}, r.where("water_l_per_head_day")).dec("low"),
            _Reader({"high": high}, r.where("water_l_per_head_day")).dec("high"),
        )
        out.append(
            (
                species,
                LivestockTerms(
                    r.dec("price_per_head"),
                    r.dec("annual_offtake", high=Decimal(12)),
                    r.dec("net_margin", high=ONE),
                    water,
                ),
            )
        )
    return tuple(out)


def _crops(reader: _Reader) -> tuple[tuple[str, CropTerms], ...]:
    out = []
    for crop in sorted(reader.data):
        r = reader.sub(crop)
        yields = r.sub("yield_t_ha")
        if "default" not in yields.data:
            raise PolicyError(f"policy table [{yields.path}] needs a 'default' yield")
        months = r.raw("harvest_months")
        if not isinstance(months, list) or not all(isinstance(m, int) and 1 <= m <= 12 for m in months):
            raise PolicyError(f"policy field {r.where('harvest_months')} = {months!r}; use month numbers 1..12")
        norm = r.sub("ndvi_norm")
        out.append(
            (
                crop,
                CropTerms(
                    r.dec("price_per_t"),
                    r.dec("net_margin", high=ONE),
                    tuple(sorted(months)),
                    tuple((k.strip().lower(), yields.dec(k)) for k in sorted(yields.data)),
                    tuple(sorted((int(k), norm.dec(k, high=ONE)) for k in norm.data)),
                ),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Bound:
    """The allowed range of one numeric policy parameter; ``whole`` asks for a whole number."""

    low: Decimal
    high: Decimal
    whole: bool = False
    low_open: bool = False

    def allows(self, value: Decimal) -> bool:
        """Whether ``value`` lies in the range (and is whole when asked)."""
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high and (not self.whole or value == value.to_integral_value())

    def describe(self) -> str:
        """The range in words, for an error message: ``a whole number from 1 to 365``."""
        kind = "a whole number" if self.whole else "a value"
        if self.low_open:
            return f"{kind} above {self.low} and at most {self.high}"
        return f"{kind} from {self.low} to {self.high}"


def _share() -> Bound:
    return Bound(ZERO, ONE, low_open=True)


def _whole(low: int, high: int) -> Bound:
    return Bound(Decimal(low), Decimal(high), whole=True)


MAX_PHASH_DISTANCE = 15
"""Largest ``fraud.recycled_phash_max_distance``: 16 bands of 4 bits, beyond which every hash is a candidate."""

PARAMETERS: dict[str, dict[str, Bound]] = {
    "fraud": {
        "declared_over_observed": Bound(ONE, Decimal(100)),
        "declared_over_observed_full": Bound(ONE, Decimal(100)),
        "flatline_min_readings": _whole(2, 100_000),
        "flatline_share_full": _share(),
        "jump_days": _whole(1, 730),
        "jump_ratio": Bound(ONE, Decimal(100)),
        "jump_ratio_full": Bound(ONE, Decimal(100)),
        "outside_tolerance_deg": Bound(ZERO, ONE),
        "recycled_phash_max_distance": _whole(0, MAX_PHASH_DISTANCE),
        "recycled_share_full": _share(),
        "refer_at": Bound(ZERO, ONE),
    },
    "early_warning": {
        "heat_days": _whole(1, 7),
        "heat_stress_c": Bound(Decimal(-50), Decimal(60)),
        "herd_drop_share": _share(),
        "missed_instalment_dpd": _whole(1, 365),
        "ndvi_below_norm": _share(),
        "ndvi_days": _whole(1, 730),
        "silent_hours": _whole(1, 8760),
        "water_drop_share": _share(),
    },
    "revolving": {
        "growth_after_on_time_months": _whole(0, 120),
        "growth_share": Bound(ZERO, ONE),
        "refresh_days": _whole(0, 366),
        "shrink_share": Bound(ZERO, ONE),
    },
}
"""The numeric parameters of each group and their allowed ranges: a policy missing one, naming an unknown
one, or holding one out of its range is refused when it loads (``growth_after_on_time_months = 0`` means
the line never grows; ``heat_days`` counts days of the last week)."""


def _params(reader: _Reader, group: str, skip: tuple[str, ...] = ()) -> tuple[tuple[str, Decimal], ...]:
    """The group's numeric parameters, refusing a missing, unknown or out-of-range one (named with its dotted path)."""
    expected = PARAMETERS[group]
    names = set(reader.data) - set(skip)
    missing = sorted(set(expected) - names)
    if missing:
        raise PolicyError(f"policy [{group}] lacks {', '.join(missing)}; add each to the policy file")
    unknown = sorted(names - set(expected))
    if unknown:
        raise PolicyError(f"policy [{group}] names unknown parameters {unknown}; use {', '.join(expected)}")
    out = []
    for name in sorted(names):
        number, bound = reader.dec(name, low=Decimal("-1e9")), expected[name]
        if not bound.allows(number):
            raise PolicyError(f"policy field {reader.where(name)} = {number} is out of range; use {bound.describe()}")
        out.append((name, number))
    return tuple(out)


def load_policy(source: str | Path) -> Policy:
    """Parse a policy from TOML text, or from the file at ``source`` when it is a :class:`~pathlib.Path`.

    Args:
        source: the TOML text itself, or a path to a policy file (for example :data:`DEFAULT_POLICY_PATH`).

    Raises:
        PolicyError: the text is not TOML, or a field is missing, out of range or unknown.
    """
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy is not valid TOML: {exc}; fix the file") from None
    top = _Reader(data, "")
    currency = top.text("currency")
    window, limit, servicing = top.sub("window"), top.sub("limit"), top.sub("servicing")
    bands_raw = limit.raw("score_bands")
    bands = tuple(
        ScoreBand(
            _Reader(b, f"limit.score_bands[{i}]").int("min_score"),
            _Reader(b, f"limit.score_bands[{i}]").dec("multiplier", high=ONE),
        )
        for i, b in enumerate(bands_raw)
    )
    if not bands or bands[0].min_score != 0 or [b.min_score for b in bands] != sorted({b.min_score for b in bands}):
        raise PolicyError("policy limit.score_bands must start at min_score = 0 and ascend without repeats")
    if [b.multiplier for b in bands] != sorted(b.multiplier for b in bands):
        raise PolicyError("policy limit.score_bands multipliers must not fall as the score rises")
    weights = top.sub("verification")
    unknown = set(weights.data) - set(VERIFICATION_COMPONENTS)
    if unknown:
        raise PolicyError(
            f"policy [verification] names unknown components {sorted(unknown)}; "
            f"use {', '.join(VERIFICATION_COMPONENTS)}"
        )
    verification_weights = {k: weights.dec(k) for k in weights.data}
    verification_weights.setdefault("count_precision", DEFAULT_COUNT_PRECISION_WEIGHT)
    card = top.sub("scorecard")
    characteristics = []
    for i, item in enumerate(card.raw("characteristics")):
        r = _Reader(item, f"scorecard.characteristics[{i}]")
        name = r.text("name")
        if name not in CHARACTERISTICS:
            raise PolicyError(
                f"policy {r.path}.name = {name!r} is unknown; use one of {', '.join(sorted(CHARACTERISTICS))}"
            )
        missing = r.int("missing_points") if "missing_points" in item else None
        characteristics.append(Characteristic(name, _bins(r, name, CHARACTERISTICS[name]), missing))
    order = tuple(servicing.raw("allocation_order"))
    if sorted(order) != sorted(DUE_COMPONENTS):
        raise PolicyError(
            f"policy servicing.allocation_order = {list(order)}; list each of {', '.join(DUE_COMPONENTS)} exactly once"
        )
    revolving = top.sub("revolving")
    freeze_on = revolving.text("freeze_on")
    if freeze_on not in SEVERITIES:
        raise PolicyError(f"policy revolving.freeze_on = {freeze_on!r}; use one of {', '.join(SEVERITIES)}")
    try:
        effective = date.fromisoformat(top.text("effective_from"))
        cap = Amount.of(limit.dec("product_cap"), currency, field="limit.product_cap")
        late_fee = Amount.of(servicing.dec("late_fee"), currency, field="servicing.late_fee")
    except (ValueError, MoneyError) as exc:
        raise PolicyError(f"policy: {exc}") from None
    fraud = _params(top.sub("fraud"), "fraud")
    step = limit.dec("step")
    if step <= ZERO:
        raise PolicyError(f'policy field limit.step = {step}; use a positive step such as "1000"')
    return Policy(
        version=top.text("version"),
        sha256=sha256_hex(text),
        currency=currency,
        effective_from=effective,
        window_days=window.int("days", low=1, high=730),
        min_verified_days=window.int("min_verified_days"),
        min_devices=window.int("min_devices"),
        product_cap=cap,
        step=step,
        tenor_months=limit.int("tenor_months", low=1, high=120),
        debt_service_ratio=limit.dec("debt_service_ratio", high=ONE),
        herd_ltv=limit.dec("herd_ltv", high=ONE),
        crop_advance_rate=limit.dec("crop_advance_rate", high=ONE),
        other_income_net_margin=limit.dec("other_income_net_margin", high=ONE),
        score_bands=bands,
        livestock=_livestock(top.sub("livestock")),
        crops=_crops(top.sub("crops")),
        verification_weights=tuple(sorted(verification_weights.items())),
        fraud=fraud,
        base_points=card.int("base_points"),
        top_reasons=card.int("top_reasons", low=1),
        characteristics=tuple(characteristics),
        early_warning=_params(top.sub("early_warning"), "early_warning"),
        revolving=_params(revolving, "revolving", skip=("freeze_on",)),
        freeze_on=freeze_on,
        allocation_order=order,
        grace_days=servicing.int("grace_days"),
        late_fee=late_fee,
        max_rate=servicing.dec("max_rate", high=Decimal(5)),
        text=text,
        **_servicing_choices(servicing),
        max_relative_width=_max_relative_width(top),
    )


DEFAULT_COUNT_PRECISION_WEIGHT = Decimal("0.10")
"""The verification weight of ``count_precision`` in a policy whose ``[verification]`` does not name it
(every policy written before count intervals, ft-2025.1 among them: a record without intervals drops the
component, so its decisions are unchanged)."""


def _max_relative_width(top: _Reader) -> tuple[tuple[str, Decimal], ...]:
    """``[count_intervals] max_relative_width_<profile>`` for each camera profile, defaults where absent."""
    table = top.sub("count_intervals") if "count_intervals" in top.data else _Reader({}, "count_intervals")
    names = {f"max_relative_width_{p}": p for p in CAMERA_PROFILES}
    unknown = sorted(set(table.data) - set(names))
    if unknown:
        raise PolicyError(f"policy [count_intervals] names unknown parameters {unknown}; use {', '.join(names)}")
    out = []
    for key, profile in names.items():
        value = table.dec(key, high=Decimal(10)) if key in table.data else DEFAULT_MAX_RELATIVE_WIDTH[profile]
        if value <= ZERO:
            raise PolicyError(f"policy field {table.where(key)} = {value}; use a positive width per head such as 0.3")
        out.append((profile, value))
    return tuple(out)


def _servicing_choices(servicing: _Reader) -> dict[str, str]:
    """The product's allocation strategy and prepayment recalculation (``standard`` and ``none`` when absent)."""
    choices = {
        "allocation_strategy": ("allocation_strategy", ALLOCATION_STRATEGIES, "standard"),
        "prepayment_recalculation": ("prepayment_recalculation", PREPAYMENT_RECALCULATIONS, "none"),
    }
    out = {}
    for name, (key, allowed, default) in choices.items():
        value = servicing.data.get(key, default)
        if value not in allowed:
            raise PolicyError(f"policy field {servicing.where(key)} = {value!r}; use one of {', '.join(allowed)}")
        out[name] = value
    return out
