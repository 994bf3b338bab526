"""Labelled sample images for model tests: the repository's MIT thermal sheep frames, plus shared sets when present.

The repository copy (``farmtrust/demo_data/sheep_thermal``, MIT, see its PROVENANCE.md) makes the
tests run from a fresh clone; the shared sets (no licence, internal use) are read in place.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_SHEEP = REPO / "farmtrust" / "demo_data" / "sheep_thermal"
SHARED = REPO.parent / "shared" / "data" / "vision" / "livestock"


def demo_sheep_val():
    return sorted((DEMO_SHEEP / "images" / "val").glob("*.jpg"))
