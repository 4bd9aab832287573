"""Where ml-100k comes from: folders, zips, downloads, the cache and checksums (no database)."""

from __future__ import annotations

import contextlib
import io
import urllib.error
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.errors import (
    ChecksumMismatch,
    DownloadFailed,
    IngestError,
    SourceNotFound,
    SourceUnreadable,
)
from catalog.movielens import FILES
from catalog.sources import read_source
from catalog.tests.helpers import make_zip, md5_of


def _expected(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


def test_folder_is_read_as_is(movielens_tiny: Path, tmp_path: Path) -> None:
    files = read_source(movielens_tiny, md5=None, cache_dir=tmp_path)
    assert files.contents == _expected(movielens_tiny)
    assert files.display_name("u.item") == str(movielens_tiny / "u.item")


def test_folder_holding_an_ml100k_folder_is_accepted(tiny_copy: Path, tmp_path: Path) -> None:
    files = read_source(tiny_copy.parent, md5=None, cache_dir=tmp_path)
    assert files.contents == _expected(tiny_copy)


def test_zip_with_one_folder_is_read(movielens_tiny: Path, tiny_zip: Path, tmp_path: Path) -> None:
    files = read_source(str(tiny_zip), md5=None, cache_dir=tmp_path)
    assert files.contents == _expected(movielens_tiny)
    assert files.display_name("u.data") == f"{tiny_zip}:ml-100k/u.data"


def test_flat_zip_is_read(movielens_tiny: Path, tmp_path: Path) -> None:
    archive = make_zip(movielens_tiny, tmp_path / "flat.zip", prefix="")
    files = read_source(archive, md5=None, cache_dir=tmp_path)
    assert files.contents == _expected(movielens_tiny)
    assert files.display_name("u.data") == f"{archive}:u.data"


def test_missing_path_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match=r"nowhere: no such folder or zip$"):
        read_source(tmp_path / "nowhere", md5=None, cache_dir=tmp_path)


def test_missing_file_in_folder_is_named(tiny_copy: Path, tmp_path: Path) -> None:
    (tiny_copy / "u.user").unlink()
    with pytest.raises(SourceUnreadable) as caught:
        read_source(tiny_copy, md5=None, cache_dir=tmp_path)
    assert caught.value.message == f"{tiny_copy / 'u.user'}: missing (not an ml-100k folder?)"


def test_bad_zip_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(SourceUnreadable, match=r"ml-100k\.zip: not a readable zip archive"):
        read_source(archive, md5=None, cache_dir=tmp_path)


def test_truncated_zip_is_refused(tiny_zip: Path, tmp_path: Path) -> None:
    data = tiny_zip.read_bytes()
    tiny_zip.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceUnreadable, match="not a readable zip archive"):
        read_source(tiny_zip, md5=None, cache_dir=tmp_path)


def test_zip_missing_a_member_is_named(tiny_copy: Path, tmp_path: Path) -> None:
    (tiny_copy / "u.genre").unlink()
    archive = make_zip(tiny_copy, tmp_path / "partial.zip")
    with pytest.raises(SourceUnreadable) as caught:
        read_source(archive, md5=None, cache_dir=tmp_path)
    assert caught.value.message == f"{archive}:ml-100k/u.genre: missing (not an ml-100k zip?)"


def test_zip_with_two_data_sets_is_ambiguous(movielens_tiny: Path, tmp_path: Path) -> None:
    archive = make_zip(movielens_tiny, tmp_path / "two.zip", prefix="a/")
    with zipfile.ZipFile(archive, "a") as extra:
        extra.writestr("b/u.data", b"1\t1\t1\t1\n")
    with pytest.raises(SourceUnreadable, match=r"holds more than one data set \(a/, b/\)"):
        read_source(archive, md5=None, cache_dir=tmp_path)


def test_checksum_of_a_local_zip_is_checked(tiny_zip: Path, tmp_path: Path) -> None:
    assert read_source(tiny_zip, md5=md5_of(tiny_zip).upper(), cache_dir=tmp_path).contents
    with pytest.raises(ChecksumMismatch, match=f"MD5 is {md5_of(tiny_zip)}, expected 0+$"):
        read_source(tiny_zip, md5="0" * 32, cache_dir=tmp_path)


def test_checksum_cannot_apply_to_a_folder(movielens_tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="checksum can only be checked on a zip or a download"):
        read_source(movielens_tiny, md5="0" * 32, cache_dir=tmp_path)


def test_other_url_schemes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match="only http:// and https:// URLs"):
        read_source("ftp://example.org/ml-100k.zip", md5=None, cache_dir=tmp_path)


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, length: int | None = None) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}


class FakeOpener:
    """Stands in for urllib: serves fixed bytes and records what was asked for."""

    def __init__(self, data: bytes, *, length: int | None = None) -> None:
        self.data, self.length = data, length
        self.urls: list[str] = []

    def __call__(self, url: str) -> contextlib.AbstractContextManager[FakeResponse]:
        self.urls.append(url)
        return FakeResponse(self.data, self.length)


URL = "https://example.org/datasets/ml-100k.zip"


def _cache_files(cache: Path) -> list[str]:
    return sorted(path.name for path in cache.iterdir()) if cache.exists() else []


def test_download_is_verified_cached_and_reused(
    movielens_tiny: Path, tiny_zip: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    opener = FakeOpener(tiny_zip.read_bytes())
    steps: list[tuple[str, int, int | None]] = []
    files = read_source(
        URL,
        md5=md5_of(tiny_zip),
        cache_dir=cache,
        opener=opener,
        progress=lambda *step: steps.append(step),
    )
    assert files.contents == _expected(movielens_tiny)
    assert files.origin == URL
    assert steps[-1] == ("download", tiny_zip.stat().st_size, tiny_zip.stat().st_size)
    [cached] = _cache_files(cache)
    assert cached.endswith("-ml-100k.zip")
    assert (cache / cached).read_bytes() == tiny_zip.read_bytes()

    again = read_source(URL, md5=md5_of(tiny_zip), cache_dir=cache, opener=opener)
    assert again.contents == files.contents
    assert opener.urls == [URL]  # the second run used the cache


def test_checksum_mismatch_discards_the_download(tiny_zip: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumMismatch) as caught:
        read_source(URL, md5="0" * 32, cache_dir=cache, opener=FakeOpener(tiny_zip.read_bytes()))
    assert caught.value.message == (
        f"{URL}: MD5 of the download is {md5_of(tiny_zip)}, expected {'0' * 32}; "
        "the download was discarded"
    )
    assert _cache_files(cache) == []


def test_tampered_cache_is_downloaded_again(tiny_zip: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    opener = FakeOpener(tiny_zip.read_bytes())
    read_source(URL, md5=md5_of(tiny_zip), cache_dir=cache, opener=opener)
    [cached] = _cache_files(cache)
    (cache / cached).write_bytes(b"corrupted")
    read_source(URL, md5=md5_of(tiny_zip), cache_dir=cache, opener=opener)
    assert opener.urls == [URL, URL]
    assert (cache / cached).read_bytes() == tiny_zip.read_bytes()


def test_interrupted_download_leaves_nothing_behind(tiny_zip: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    data = tiny_zip.read_bytes()
    opener = FakeOpener(data[:100], length=len(data))  # the connection dropped early
    with pytest.raises(DownloadFailed, match=f"stopped after 100 of {len(data)} bytes"):
        read_source(URL, md5=None, cache_dir=cache, opener=opener)
    assert _cache_files(cache) == []


def test_network_errors_become_download_failed(tmp_path: Path) -> None:
    @contextlib.contextmanager
    def refused(url: str) -> Iterator[FakeResponse]:
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        yield  # pragma: no cover

    with pytest.raises(DownloadFailed, match=r"download failed \(.*Connection refused"):
        read_source(URL, md5=None, cache_dir=tmp_path / "cache", opener=refused)
    assert _cache_files(tmp_path / "cache") == []


def test_real_http_download_from_a_local_server(
    http_root: tuple[str, Path], movielens_tiny: Path, tmp_path: Path
) -> None:
    base, root = http_root
    archive = make_zip(movielens_tiny, root / "ml-100k.zip")
    files = read_source(f"{base}/ml-100k.zip", md5=md5_of(archive), cache_dir=tmp_path / "cache")
    assert files.contents == _expected(movielens_tiny)


def test_http_error_status_is_reported(http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = http_root
    with pytest.raises(DownloadFailed, match=r"missing\.zip: download failed \(HTTP 404 "):
        read_source(f"{base}/missing.zip", md5=None, cache_dir=tmp_path / "cache")
    assert _cache_files(tmp_path / "cache") == []
