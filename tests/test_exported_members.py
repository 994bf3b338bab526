"""Every package's public surface is explicit, sorted and importable."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["farmtrust", "store", "edge", "vision", "remote_sensing", "credit", "api", "usecases", "vocabulary"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_importable(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", [])
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}, which is missing"
