"""multipart/related bodies (RFC 2387, PS3.18 §8.7.1.2): streamed out, parsed on the way in."""

from __future__ import annotations

import mmap
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

CHUNK_SIZE = 1024 * 1024


class MultipartError(ValueError):
    """A malformed multipart body (answered 400)."""


@dataclass(frozen=True)
class MediaType:
    """One media type with its parameters, e.g. multipart/related; type="application/dicom"."""

    type: str
    params: dict[str, str]
    quality: float = 1.0

    @property
    def inner_type(self) -> str:
        return self.params.get("type", "").strip('"').lower()

    @property
    def transfer_syntax(self) -> str | None:
        value = self.params.get("transfer-syntax")
        return value.strip('"') if value is not None else None


def media_type_parse(text: str) -> MediaType:
    message = Message()
    message["content-type"] = text
    params = {k.lower(): v for k, v in message.get_params()[1:]} if message.get_params() else {}
    quality = 1.0
    try:
        quality = float(params.pop("q", "1") or 1)
    except ValueError:
        quality = 0.0
    return MediaType(type=message.get_content_type().lower(), params=params, quality=quality)


def accept_parse(header: str) -> list[MediaType]:
    """The media ranges of an Accept header, best first (stable for equal quality).

    Splitting on commas is safe here: DICOMweb media type parameters never contain commas
    (a transfer-syntax is one UID or '*')."""
    ranges = [media_type_parse(part) for part in header.split(",") if part.strip()]
    return sorted(ranges, key=lambda media: -media.quality)


def boundary_new() -> str:
    return uuid.uuid4().hex


def multipart_stream(
    *, parts: Iterable[tuple[str, Iterable[bytes]]], boundary: str
) -> Iterator[bytes]:
    """Yield a multipart/related body part by part; each part is (content type, chunks).

    Nothing is joined in memory: a 133-slice series goes out one file chunk at a time."""
    for content_type, chunks in parts:
        yield f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode()
        yield from chunks
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def file_chunks(path: Path, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
    """The bytes of a file (or of a range of it) in CHUNK_SIZE pieces, read lazily."""
    with path.open("rb") as stream:
        stream.seek(offset)
        remaining = length
        while remaining is None or remaining > 0:
            size = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
            chunk = stream.read(size)
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


@dataclass(frozen=True)
class ReceivedPart:
    content_type: str
    start: int
    end: int


def multipart_parts_locate(*, body: mmap.mmap | bytes, boundary: str) -> list[ReceivedPart]:
    """Where each part of a multipart body lies; raises MultipartError if malformed.

    Every part is located before any is used, so a body cut short (no closing delimiter)
    is refused as a whole and nothing from it is stored.
    """
    delimiter = b"--" + boundary.encode("latin-1")
    if body[: len(delimiter)] == delimiter:
        position = 0
    else:
        position = body.find(b"\r\n" + delimiter)
        if position < 0:
            raise MultipartError("The body does not contain the boundary of its Content-Type.")
        position += 2
    parts = []
    while True:
        position += len(delimiter)
        if body[position : position + 2] == b"--":
            return parts
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise MultipartError("The body ends inside a boundary line.")
        headers_end = body.find(b"\r\n\r\n", line_end)
        if headers_end < 0:
            raise MultipartError("A part has no end of headers.")
        headers = bytes(body[line_end + 2 : headers_end]).decode("latin-1")
        content_type = ""
        for line in headers.split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-type":
                content_type = value.strip()
        start = headers_end + 4
        next_delimiter = body.find(b"\r\n" + delimiter, start)
        if next_delimiter < 0:
            raise MultipartError("The body has no closing boundary: it is truncated.")
        parts.append(ReceivedPart(content_type=content_type, start=start, end=next_delimiter))
        position = next_delimiter + 2
