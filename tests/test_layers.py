"""Where things live (issue #13): import contracts, no SQL outside store/, and the demo's data inside the package."""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"


def test_import_contracts_are_kept(capsys):
    from importlinter.cli import lint_imports

    code = lint_imports(config_filename=str(PYPROJECT), no_cache=True)
    assert code == 0, capsys.readouterr().out[-3000:]


def _calls_named(path: Path, name: str) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name
    ]


def test_farmtrust_and_usecases_run_no_sql_of_their_own():
    found = {
        str(path.relative_to(ROOT)): lines
        for package in ("farmtrust", "usecases")
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in ("execute", "executemany", "copy")
        if (lines := _calls_named(path, name))
    }
    assert found == {}, "SQL belongs in store/ as a named function"


def test_the_web_layer_runs_no_sql_of_its_own():
    """Issue #13 phase 2: every route and dependency of ``api/`` calls use cases and store functions only."""
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "api").rglob("*.py"))
        for name in ("execute", "executemany", "copy")
        if (lines := _calls_named(path, name))
    }
    assert found == {}, "SQL belongs in store/ as a named function"


def test_no_optional_table_checks_in_the_web_layer():
    """The tables always exist (migrations): no ``to_regclass`` probing in ``api/``."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "api").rglob("*.py") if "to_regclass" in p.read_text()]
    assert offenders == []


def test_the_demo_data_ships_with_the_package():
    from farmtrust import demo_samples

    package = ROOT / "farmtrust"
    for folder in (demo_samples.SHEEP_THERMAL, demo_samples.FLANDERS_2018):
        assert folder.is_dir() and folder.is_relative_to(package), folder
        assert (folder / "PROVENANCE.md").is_file()
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]["*"]
    files = [p for p in (package / "demo_data").rglob("*") if p.is_file()]
    assert len(files) > 100
    unpackaged = [str(p.relative_to(ROOT)) for p in files if not any(fnmatch.fnmatch(p.name, pat) for pat in patterns)]
    assert unpackaged == []


def test_the_demo_reads_no_files_from_tests():
    for path in (ROOT / "farmtrust").rglob("*.py"):
        text = path.read_text()
        assert '"tests"' not in text and "tests/data" not in text, path
