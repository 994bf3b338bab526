"""Livestock species and the class names of detection models that mean them."""

from __future__ import annotations

from enum import StrEnum


class Species(StrEnum):
    """A livestock species FarmTrust counts, values and lends against (lowercase singular English)."""

    CATTLE = "cattle"
    """Cows, bulls, steers and calves (and yaks)."""
    SHEEP = "sheep"
    """Sheep and lambs."""
    GOAT = "goat"
    """Goats and kids."""
    PIG = "pig"
    """Pigs, sows and piglets."""
    POULTRY = "poultry"
    """Chickens, hens, ducks: any farmed bird."""
    HORSE = "horse"
    """Horses, donkeys and mules."""


SPECIES: tuple[str, ...] = tuple(s.value for s in Species)
"""Every species name, in the order of :class:`Species` (vision uses the index as a tracker class id)."""

SPECIES_ALIASES: dict[str, Species] = {
    "cow": Species.CATTLE,
    "cows": Species.CATTLE,
    "cattle": Species.CATTLE,
    "bull": Species.CATTLE,
    "yak": Species.CATTLE,
    "sheep": Species.SHEEP,
    "lamb": Species.SHEEP,
    "goat": Species.GOAT,
    "pig": Species.PIG,
    "pigs": Species.PIG,
    "swine": Species.PIG,
    "bird": Species.POULTRY,
    "chicken": Species.POULTRY,
    "hen": Species.POULTRY,
    "poultry": Species.POULTRY,
    "duck": Species.POULTRY,
    "horse": Species.HORSE,
}
"""Class names of COCO and of livestock datasets (lowercase) that mean one of our species."""


def species_of_class_name(name: str) -> str | None:
    """Return the species a model's class name means (``"Cow"`` → ``"cattle"``), or None for other classes."""
    found = SPECIES_ALIASES.get(name.strip().lower())
    return found.value if found is not None else None


def species_of_names(names: dict[int, str]) -> dict[int, str]:
    """Map a model's class ids to species, keeping only classes that are livestock.

    Args:
        names: the model's class names by id (``{19: "cow", ...}``).

    Returns:
        ``{class_id: species}`` for the classes that name a livestock species.
    """
    return {int(k): found for k, v in names.items() if (found := species_of_class_name(v)) is not None}


def is_species(name: str) -> bool:
    """Whether ``name`` is exactly one of :data:`SPECIES`."""
    return name in SPECIES
