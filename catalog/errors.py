"""catalog: domain errors of the ingest (Django-free). Each message says what and where."""

from __future__ import annotations

from movierec.errors import ApplicationError


class IngestError(ApplicationError):
    """The ingest stopped before writing anything; the message names the file (and line)."""

    code = "ingest_failed"


class SourceNotFound(IngestError):
    code = "source_not_found"


class SourceUnreadable(IngestError):
    """Not an ml-100k folder or zip (a bad zip, a missing member, an unreadable file)."""

    code = "source_unreadable"


class DownloadFailed(IngestError):
    code = "download_failed"


class ChecksumMismatch(IngestError):
    code = "checksum_mismatch"


class MalformedData(IngestError):
    """A file is not in ml-100k format; ``file`` and ``line`` say where."""

    code = "malformed_data"

    def __init__(self, message: str, *, file: str, line: int | None) -> None:
        super().__init__(message, extra={"file": file, "line": line})
        self.file = file
        self.line = line


class IngestConflict(IngestError):
    """The database refused the data: rows added by hand (or during the run) clash with it."""

    code = "ingest_conflict"
