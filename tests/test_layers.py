"""The import contracts of pyproject.toml ([tool.importlinter]) hold, so `make test` fails on
an upward import as `make lint` does; and they catch what they are meant to catch.

The layers, top to bottom, and why they are what they are: docs/architecture.md.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(*, cwd: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_code_keeps_the_import_contracts():
    result = lint_imports(cwd=REPO, config=REPO / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_the_contracts_catch_upward_sibling_and_task_imports_even_inside_functions(tmp_path):
    """The project's own contracts, run on a tree of empty apps with three bad imports, each
    placed inside a function where a cycle likes to hide (STYLE.md habit 11)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    for package in config["root_packages"]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    modules = {
        # Upward: runs sits below the lab families.
        "runs/services.py": "def run_enqueue():\n    from labs import models\n",
        # Sideways: siblings on one layer talk through registries, not imports.
        "evaluation/services.py": "def cohort_run():\n    import labs.selectors\n",
        # A service importing its tasks (tasks import services: a cycle).
        "labs/services.py": "def validate():\n    from labs.tasks import validate_task\n",
        "labs/models.py": "",
        "labs/selectors.py": "",
        "labs/tasks.py": "validate_task = None\n",
    }
    for path, source in modules.items():
        (tmp_path / path).write_text(source)
    (tmp_path / "pyproject.toml").write_text(_toml(config))

    result = lint_imports(cwd=tmp_path, config=tmp_path / "pyproject.toml")

    assert result.returncode != 0
    assert "runs is not allowed to import labs" in result.stdout, result.stdout
    assert "evaluation is not allowed to import labs" in result.stdout, result.stdout
    assert "labs.services is not allowed to import labs.tasks" in result.stdout, result.stdout


def _toml(config: dict) -> str:
    """The [tool.importlinter] table back as TOML (strings, lists of strings and one list of
    contract tables are all it holds)."""

    def value(item) -> str:
        if isinstance(item, list):
            return "[" + ", ".join(value(entry) for entry in item) + "]"
        return '"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["[tool.importlinter]"]
    lines += [f"{key} = {value(item)}" for key, item in config.items() if key != "contracts"]
    for contract in config["contracts"]:
        lines += ["", "[[tool.importlinter.contracts]]"]
        lines += [f"{key} = {value(item)}" for key, item in contract.items()]
    return "\n".join(lines) + "\n"
