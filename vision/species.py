"""Species names and the mapping from a model's class names to them."""

from __future__ import annotations

SPECIES: tuple[str, ...] = ("cattle", "sheep", "goat", "pig", "poultry", "horse")

# Class names of COCO and of livestock datasets that mean one of our species.
_ALIASES: dict[str, str] = {
    "cow": "cattle",
    "cows": "cattle",
    "cattle": "cattle",
    "bull": "cattle",
    "yak": "cattle",
    "sheep": "sheep",
    "lamb": "sheep",
    "goat": "goat",
    "pig": "pig",
    "pigs": "pig",
    "swine": "pig",
    "bird": "poultry",
    "chicken": "poultry",
    "hen": "poultry",
    "poultry": "poultry",
    "duck": "poultry",
    "horse": "horse",
}


def species_of_names(names: dict[int, str]) -> dict[int, str]:
    """Map a model's class ids to species, keeping only classes that are livestock.

    Args:
        names: the model's class names by id (``{19: "cow", ...}``).

    Returns:
        ``{class_id: species}`` for the classes that name a livestock species.
    """
    return {int(k): _ALIASES[v.strip().lower()] for k, v in names.items() if v.strip().lower() in _ALIASES}
