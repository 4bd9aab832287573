"""catalog: where ml-100k comes from (Django-free). A folder, a zip, or a URL, read into memory.

A URL is downloaded once into a cache folder and reused. When a checksum is given, the file is
verified against it before use, both a fresh download and a cached copy. A download that does
not match is thrown away, never left where the next run would pick it up. Downloads go to a
temporary file in the cache folder and are renamed into place only once complete, so an
interrupted run cannot leave half a zip behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO, Protocol
from urllib.parse import urlparse

from catalog.errors import (
    ChecksumMismatch,
    DownloadFailed,
    IngestError,
    SourceNotFound,
    SourceUnreadable,
)
from catalog.movielens import FILES

# (step, done, total or None when unknown): how long steps report how far they are.
Progress = Callable[[str, int, int | None], None]

DOWNLOAD_TIMEOUT_SECONDS = 60
CHUNK_BYTES = 1 << 16
# ml-100k's largest file is 2 MB; a member far bigger than that is not ml-100k (or a zip bomb).
MAX_MEMBER_BYTES = 64 << 20


class Response(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# An opener turns a URL into a readable, closable response: urllib's urlopen by default, a fake
# in tests. Content-Length, when the response has headers, feeds the progress total.
Opener = Callable[[str], contextlib.AbstractContextManager[Response]]


@dataclass(frozen=True)
class SourceFiles:
    """The four ml-100k files, read into memory, and where they came from."""

    origin: str  # what was asked for: a path or a URL
    location: str  # what was read: the folder, the zip, or the cached download
    contents: Mapping[str, bytes]
    archive: bool = False
    member_prefix: str = ""  # inside a zip: "ml-100k/"

    def display_name(self, file: str) -> str:
        """How error messages name ``file``: a full path, or ``archive.zip:ml-100k/u.item``."""
        if self.archive:
            return f"{self.location}:{self.member_prefix}{file}"
        return str(Path(self.location) / file)


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and urlparse(source).scheme in ("http", "https")


def read_source(
    source: str | Path,
    *,
    md5: str | None,
    cache_dir: Path,
    opener: Opener | None = None,
    progress: Progress | None = None,
) -> SourceFiles:
    """Read ml-100k from a folder, a zip or an http(s) URL.

    Raises `SourceNotFound`, `SourceUnreadable`, `DownloadFailed` or `ChecksumMismatch`.
    """
    if md5 is not None:
        md5 = md5.strip().lower()
    if is_url(source):
        archive = _cached_download(
            str(source), md5=md5, cache_dir=cache_dir, opener=opener or _urlopen, progress=progress
        )
        return replace(_read_zip(archive), origin=str(source))

    path = Path(source).expanduser()
    if isinstance(source, str) and "://" in source:
        raise SourceNotFound(f"{source}: only http:// and https:// URLs can be downloaded")
    if path.is_dir():
        if md5 is not None:
            raise IngestError(f"{path}: a checksum can only be checked on a zip or a download")
        return _read_folder(path)
    if path.is_file():
        if md5 is not None:
            _verify(path, md5, what=str(path))
        return _read_zip(path)
    raise SourceNotFound(f"{path}: no such folder or zip")


def _read_folder(path: Path) -> SourceFiles:
    # Accept both the ml-100k folder itself and the folder it was unpacked into.
    if not (path / FILES[0]).exists() and (path / "ml-100k" / FILES[0]).exists():
        path = path / "ml-100k"
    contents: dict[str, bytes] = {}
    for name in FILES:
        file = path / name
        try:
            contents[name] = file.read_bytes()
        except FileNotFoundError:
            raise SourceUnreadable(f"{file}: missing (not an ml-100k folder?)") from None
        except OSError as exc:
            raise SourceUnreadable(f"{file}: cannot be read ({exc.strerror})") from None
    return SourceFiles(str(path), str(path), contents)


def _read_zip(path: Path) -> SourceFiles:
    try:
        with zipfile.ZipFile(path) as archive:
            members = _members(archive, path)
            contents = {}
            for name, info in members.items():
                if info.file_size > MAX_MEMBER_BYTES:
                    raise SourceUnreadable(f"{path}:{info.filename}: too large for ml-100k")
                contents[name] = archive.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise SourceUnreadable(f"{path}: not a readable zip archive ({exc})") from None
    except OSError as exc:
        raise SourceUnreadable(f"{path}: cannot be read ({exc.strerror or exc})") from None
    prefix = str(PurePosixPath(members[FILES[0]].filename).parent)
    return SourceFiles(
        str(path),
        str(path),
        contents,
        archive=True,
        member_prefix="" if prefix == "." else f"{prefix}/",
    )


def _members(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """The four files, at the top of the archive or inside its one folder (``ml-100k/``)."""
    folders: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for info in archive.infolist():
        member = PurePosixPath(info.filename)
        if not info.is_dir() and member.name in FILES and len(member.parts) <= 2:
            folders.setdefault(str(member.parent), {})[member.name] = info
    if len(folders) > 1:
        listed = ", ".join(sorted(f"{folder}/" for folder in folders))
        raise SourceUnreadable(f"{path}: holds more than one data set ({listed})")
    found = next(iter(folders.values()), {})
    folder = next(iter(folders), "ml-100k")
    for name in FILES:
        if name not in found:
            missing = name if folder == "." else f"{folder}/{name}"
            raise SourceUnreadable(f"{path}:{missing}: missing (not an ml-100k zip?)")
    return found


def _urlopen(url: str) -> contextlib.AbstractContextManager[Response]:
    # The scheme was checked to be http(s) by `is_url` before we get here.
    return urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS)  # noqa: S310


def _cache_path(url: str, cache_dir: Path) -> Path:
    # The URL's hash keeps two sources with the same file name apart; the name stays readable.
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    name = PurePosixPath(urlparse(url).path).name or "download.zip"
    return cache_dir / f"{digest}-{name}"


def _cached_download(
    url: str, *, md5: str | None, cache_dir: Path, opener: Opener, progress: Progress | None
) -> Path:
    target = _cache_path(url, cache_dir)
    if target.is_file():
        if md5 is None or _md5(target) == md5:
            return target
        # A cached copy that no longer matches (tampered, truncated): fetch it again.
        target.unlink(missing_ok=True)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, renamed or removed)
            dir=cache_dir, prefix=f".{target.name}.", suffix=".part", delete=False
        )
    except OSError as exc:
        raise DownloadFailed(f"{cache_dir}: cannot write the download cache ({exc})") from None
    temporary = Path(handle.name)
    try:
        with handle:
            digest = _download(url, opener, handle, progress)
        if md5 is not None and digest != md5:
            raise ChecksumMismatch(
                f"{url}: MD5 of the download is {digest}, expected {md5}; the download was "
                "discarded"
            )
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _download(url: str, opener: Opener, sink: IO[bytes], progress: Progress | None) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    try:
        with opener(url) as response:
            headers = getattr(response, "headers", None)
            length = headers.get("Content-Length") if headers is not None else None
            total = int(length) if length and length.isdigit() else None
            while chunk := response.read(CHUNK_BYTES):
                sink.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress("download", done, total)
    except OSError as exc:  # URLError, HTTPError, timeouts and refused connections
        raise DownloadFailed(f"{url}: download failed ({_reason(exc)})") from None
    if total is not None and done != total:
        raise DownloadFailed(f"{url}: download stopped after {done} of {total} bytes")
    return digest.hexdigest()


def _reason(exc: OSError) -> str:
    code = getattr(exc, "code", None)  # HTTPError: say which status the server answered
    reason = getattr(exc, "reason", None) or exc
    return f"HTTP {code} {reason}" if isinstance(code, int) else str(reason)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, md5: str, *, what: str) -> None:
    try:
        actual = _md5(path)
    except OSError as exc:
        raise SourceUnreadable(f"{path}: cannot be read ({exc.strerror})") from None
    if actual != md5:
        raise ChecksumMismatch(f"{what}: MD5 is {actual}, expected {md5}")
