"""Files through Django's storage API, and the bounded local cache of the code that needs paths.

Every file the platform keeps (the study library, lab outputs, uploads, training
checkpoints) lives in the default storage (`settings.STORAGES["default"]`): MEDIA_ROOT on
one machine, an S3 bucket (django-storages) when web and workers run on several hosts.
Most code reads and writes through the storage (`storage.open`, `storage.save`, FileField).
Code that must hand a path to a library (pydicom's deferred reads, torch.load, the model
sandbox's read-only bind, a trainer subprocess) asks this module:

- `local_path(name)`: a local file with the stored object's bytes. On a filesystem storage it
  is the stored file itself (no copy, nothing changes for `make run`); otherwise the object
  is downloaded once into the cache and reused while it stays there.
- `publish(path, name)`: make a local file the stored object `name` (no-op where the local
  file already is the stored one).
- `scratch_dir(name)`: a local working folder for a stored prefix (a training run's folder).

The cache (settings.FILE_CACHE_DIR, bounded by FILE_CACHE_MAX_BYTES) drops the least
recently used files when downloads take it over the bound (checked after every twentieth
of the bound fetched, or every few seconds). A file used in the last
FILE_CACHE_MIN_AGE_SECONDS is never dropped, because another process of the same host may
just have been handed its path; the bound can therefore be passed for that long.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, default_storage

logger = logging.getLogger(__name__)


class StoredFileMissing(FileNotFoundError):
    """The storage holds no object of that name."""


def storage_is_local(storage: Storage | None = None) -> bool:
    """True where stored files are plain files of this host (their path is the file)."""
    storage = storage or default_storage
    # default_storage is a lazy object: look at the storage it stands for.
    wrapped = getattr(storage, "_wrapped", storage)
    return isinstance(wrapped, FileSystemStorage)


def cache_root() -> Path:
    return Path(settings.FILE_CACHE_DIR)


def _safe_name(name: str) -> PurePosixPath:
    """A stored name as a relative path that cannot leave the cache (no "..", no root)."""
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ValueError(f"{name!r} is not a stored file name")
    return pure


def cache_path(name: str) -> Path:
    """Where the cache keeps the object `name` (whether or not it is there now)."""
    return cache_root() / "objects" / _safe_name(name)


def local_path(name: str, *, storage: Storage | None = None, size: int | None = None) -> Path:
    """A local file holding the stored object `name`; downloaded into the cache if needed.

    `size`, where the caller knows it (an index row's file size), detects a cached copy
    that an overwrite in the storage made stale. Raises StoredFileMissing when the object
    store has no such object (on a filesystem storage the path is returned as it is).
    """
    storage = storage or default_storage
    if storage_is_local(storage):
        # The stored file itself, present or not: callers report a missing file as before.
        return Path(storage.path(name))
    target = cache_path(name)
    try:
        stat = target.stat()
    except FileNotFoundError:
        stat = None
    if stat is not None and (size is None or stat.st_size == size):
        os.utime(target)  # the LRU clock: a hit makes the file young again
        return target
    if not storage.exists(name):
        raise StoredFileMissing(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Download beside the target and rename: a reader never sees half a file, and two
    # processes fetching the same object both end with a whole one.
    handle, staged = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
    try:
        with os.fdopen(handle, "wb") as out, storage.open(name, "rb") as stored:
            shutil.copyfileobj(stored, out, length=1024 * 1024)
        os.replace(staged, target)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
    _trim_when_due(fetched=target.stat().st_size, keep=target)
    return target


# Trimming walks the whole cache, so a series of many small files (a CT's slices) is not
# followed by a walk per file: the cache is trimmed once a twentieth of its bound has been
# fetched since the last walk, or a few seconds have passed. The bound can be passed by
# that twentieth meanwhile.
_TRIM_INTERVAL_SECONDS = 5.0
_since_trim = {"bytes": 0, "at": 0.0}


def _trim_when_due(*, fetched: int, keep: Path) -> None:
    _since_trim["bytes"] += fetched
    due_bytes = _since_trim["bytes"] >= int(settings.FILE_CACHE_MAX_BYTES) // 20
    if due_bytes or time.monotonic() - _since_trim["at"] >= _TRIM_INTERVAL_SECONDS:
        cache_trim(keep=keep)
        _since_trim.update(bytes=0, at=time.monotonic())


def publish(path: Path, name: str, *, storage: Storage | None = None) -> str:
    """Store the local file `path` as `name` (replacing what was there); returns the name.

    Where the storage is this host's filesystem and `path` already is that stored file,
    nothing is copied. A published file is left in the cache as a copy of the object.
    """
    storage = storage or default_storage
    if storage_is_local(storage):
        stored = Path(storage.path(name))
        if os.path.abspath(stored) == os.path.abspath(path):
            return name
    if storage.exists(name):
        storage.delete(name)
    with Path(path).open("rb") as handle:
        saved = storage.save(name, File(handle, name=PurePosixPath(name).name))
    if saved != name:  # a storage that renamed it: callers record the name they asked for
        raise RuntimeError(f"storage saved {name!r} as {saved!r}")
    return saved


def scratch_dir(name: str, *, storage: Storage | None = None) -> Path:
    """A local working folder for the stored prefix `name` (created).

    On a filesystem storage it is the stored folder itself; elsewhere it lies in the cache's
    scratch area, and what must outlive the worker is published (`publish`)."""
    storage = storage or default_storage
    if storage_is_local(storage):
        path = Path(storage.path(name))
    else:
        path = cache_root() / "scratch" / _safe_name(name)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_trim(*, keep: Path | None = None) -> int:
    """Drop least recently used cached objects until the cache fits its bound.

    Returns the bytes dropped. Files used within FILE_CACHE_MIN_AGE_SECONDS and `keep`
    stay (see the module docstring)."""
    objects = cache_root() / "objects"
    if not objects.is_dir():
        return 0
    entries = []
    total = 0
    for path in objects.rglob("*"):
        if path.name.startswith(".fetch-"):
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # dropped by another process meanwhile
        if path.is_file():
            entries.append((stat.st_mtime, stat.st_size, path))
            total += stat.st_size
    bound = int(settings.FILE_CACHE_MAX_BYTES)
    if total <= bound:
        return 0
    young = time.time() - float(settings.FILE_CACHE_MIN_AGE_SECONDS)
    dropped = 0
    for mtime, size, path in sorted(entries):
        if total - dropped <= bound:
            break
        if mtime > young or (keep is not None and path == keep):
            continue
        path.unlink(missing_ok=True)
        dropped += size
    if dropped:
        logger.info("file cache: dropped %d bytes to stay under %d", dropped, bound)
    return dropped


def cache_size() -> int:
    objects = cache_root() / "objects"
    if not objects.is_dir():
        return 0
    return sum(p.stat().st_size for p in objects.rglob("*") if p.is_file())
