"""Species names and the mapping from a model's class names to them (from :mod:`vocabulary.species`)."""

from __future__ import annotations

from vocabulary.species import SPECIES, species_of_names

__all__ = ["SPECIES", "species_of_names"]
