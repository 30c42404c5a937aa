"""Content-addressed, immutable evidence archive written as standard WARC files.

Every capture is one small gzipped WARC file named after the SHA-256 of its body::

    <root>/warc/<sha[:2]>/<sha>.warc.gz

A fetched page becomes ``warcinfo`` + ``response`` + ``request`` records; a saved offline copy becomes
``warcinfo`` + ``resource``. WARC is what archive tools (pywb, warcio, ReplayWeb.page) read, so the evidence
can be replayed outside this project.

Why content addressing: the hash *is* the identity of the evidence that a verdict quotes. The same bytes always
land in the same file, and a file that exists is never rewritten (the first capture of those bytes wins;
the desk's database records every later capture's URL and time separately). Writes go to a temporary file in
the target directory, are made read-only and then hard-linked into place, which fails instead of
overwriting when another writer got there first.

Bodies are stored *decoded* (as ``FetchResult.body`` holds them: transfer and content encodings removed),
so the response record's ``Content-Encoding``/``Transfer-Encoding``/``Content-Length`` headers are kept
only as ``X-Archive-Orig-*`` and a truthful ``Content-Length`` is written; replay tools then serve the
bytes as they are.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from factcheck import __version__
from factcheck.errors import FactcheckError

__all__ = [
    "Archive",
    "ArchiveCorruptError",
    "ArchiveError",
    "ArchiveNotFoundError",
    "ArchivedCapture",
    "sha256_hex",
]

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
# Headers that describe the wire encoding, not the decoded body we store.
_WIRE_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


class ArchiveError(FactcheckError):
    """A problem with the evidence archive."""


class ArchiveNotFoundError(ArchiveError):
    """No capture with that SHA-256 is in the archive."""


class ArchiveCorruptError(ArchiveError):
    """A capture's stored bytes no longer match its SHA-256 (or the WARC is unreadable)."""


@dataclass(frozen=True)
class ArchivedCapture:
    """Where a body lives in the archive.

    ``path`` is relative to the archive root (POSIX separators, what a database should store);
    ``warc_path`` is the absolute file path. ``created`` is False when the same bytes were already archived.
    """

    sha256: str
    path: str
    warc_path: Path
    created: bool = True


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as lowercase hex (the archive's key)."""
    return hashlib.sha256(data).hexdigest()


def _check_sha(sha256: str) -> str:
    """Refuse anything but a lowercase hex digest, so a key can never walk out of the archive."""
    if not isinstance(sha256, str) or not _SHA_RE.match(sha256):
        raise ArchiveError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


def _warc_date(when: datetime) -> str:
    """WARC-Date (UTC, microseconds) from an aware datetime; naive values are taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return str(datetime_to_iso_date(when.astimezone(UTC).replace(tzinfo=None), use_micros=True))


def _status_line(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"{status} {phrase}"


STALE_TEMP_SECONDS = 15 * 60
"""A ``.tmp-*.warc.gz`` older than this is left over from a write that was killed (a real write takes
seconds): the first write to an archive folder in a process removes such files, and again every
SWEEP_INTERVAL seconds while the process keeps writing there."""
SWEEP_INTERVAL = 60.0
_last_sweep: dict[Path, float] = {}  # archive root (resolved) -> time.monotonic() of this process's last sweep
_sweep_lock = threading.Lock()


def _sweep_due(root: Path) -> bool:
    """Whether this process should sweep `root` now; claims the sweep, so concurrent writers (threads
    storing captures side by side) do not all walk the folder at once."""
    key = root.resolve()
    now = time.monotonic()
    with _sweep_lock:
        last = _last_sweep.get(key)
        if last is not None and now - last < SWEEP_INTERVAL:
            return False
        _last_sweep[key] = now
        return True


class Archive:
    """The evidence archive under ``root`` (created on first write).

    Safe to use from several threads (and processes) at once: every write goes to its own temp file and
    is linked into place, so two writers of the same bytes leave one file and neither fails."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def sweep_stale_temp(self, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
        """Remove temp files that killed writes left behind (older than `older_than` seconds; a younger one
        may belong to a write in progress in another process). Returns what was removed."""
        removed: list[Path] = []
        cutoff = time.time() - older_than
        for tmp in self.root.glob("warc/*/.tmp-*.warc.gz"):
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    removed.append(tmp)
        with _sweep_lock:
            _last_sweep[self.root.resolve()] = time.monotonic()
        return removed

    # -- paths -----------------------------------------------------------------------------------------
    def relative_path(self, sha256: str) -> str:
        """Path of a capture relative to the root (stable; safe to store in a database)."""
        sha = _check_sha(sha256)
        return f"warc/{sha[:2]}/{sha}.warc.gz"

    def path_for(self, sha256: str) -> Path:
        """Absolute path of a capture's WARC file (which may not exist)."""
        return self.root / self.relative_path(sha256)

    def exists(self, sha256: str) -> bool:
        """Whether a capture of these bytes is archived."""
        return self.path_for(sha256).is_file()

    # -- writing ---------------------------------------------------------------------------------------
    def store(
        self,
        *,
        url: str,
        body: bytes,
        status: int,
        headers: Mapping[str, str],
        fetched_at: datetime,
        request_headers: Mapping[str, str] | None = None,
        method: str = "GET",
    ) -> ArchivedCapture:
        """Archive an HTTP response body (decoded bytes) with its status and headers.

        Idempotent: if these bytes are already archived, nothing is written and the existing file is
        returned with ``created=False``.
        """
        sha = sha256_hex(body)
        target = self.path_for(sha)
        if target.is_file():
            return ArchivedCapture(sha, self.relative_path(sha), target, created=False)

        http_headers = self._response_headers(headers, len(body))
        date = _warc_date(fetched_at)

        def write(writer: WARCWriter) -> None:
            resp = writer.create_warc_record(
                url,
                "response",
                payload=BytesIO(body),
                length=len(body),
                http_headers=StatusAndHeaders(_status_line(status), http_headers, protocol="HTTP/1.1"),
                warc_headers_dict={"WARC-Date": date},
            )
            req = writer.create_warc_record(
                url,
                "request",
                http_headers=self._request_headers(url, method, request_headers or {}),
                warc_headers_dict={"WARC-Date": date},
            )
            writer.write_request_response_pair(req, resp)

        created = self._write_atomically(target, date, write)
        return ArchivedCapture(sha, self.relative_path(sha), target, created=created)

    def store_file(
        self,
        *,
        url: str | None = None,
        body: bytes | None = None,
        path: Path | str | None = None,
        content_type: str | None = None,
        saved_at: datetime | None = None,
    ) -> ArchivedCapture:
        """Archive a saved offline copy (e.g. a case file's ``pages/bi.html``) as a WARC ``resource`` record.

        Give ``body`` or ``path``. ``url`` is the page the copy was saved from; without one the record's
        target URI is ``urn:sha256:<hex>``. ``saved_at`` defaults to the file's modification time (else now).
        """
        if (body is None) == (path is None):
            raise ArchiveError("store_file needs exactly one of body= or path=")
        if path is not None:
            p = Path(path)
            try:
                body = p.read_bytes()
            except OSError as exc:
                raise ArchiveError(f"cannot read {p}: {exc.strerror or exc}") from exc
            if saved_at is None:
                saved_at = datetime.fromtimestamp(p.stat().st_mtime, UTC)
            if content_type is None:
                content_type = mimetypes.guess_type(p.name)[0]
        assert body is not None
        sha = sha256_hex(body)
        target = self.path_for(sha)
        if target.is_file():
            return ArchivedCapture(sha, self.relative_path(sha), target, created=False)
        uri = url or f"urn:sha256:{sha}"
        date = _warc_date(saved_at or datetime.now(UTC))
        ctype = content_type or "application/octet-stream"

        def write(writer: WARCWriter) -> None:
            rec = writer.create_warc_record(
                uri,
                "resource",
                payload=BytesIO(body),
                length=len(body),
                warc_content_type=ctype,
                warc_headers_dict={"WARC-Date": date},
            )
            writer.write_record(rec)

        created = self._write_atomically(target, date, write)
        return ArchivedCapture(sha, self.relative_path(sha), target, created=created)

    # -- reading ---------------------------------------------------------------------------------------
    def read_body(self, sha256: str) -> bytes:
        """The exact archived bytes for ``sha256``; raises if missing or if they no longer hash to it."""
        target = self.path_for(sha256)
        if not target.is_file():
            raise ArchiveNotFoundError(f"no archived capture {sha256}")
        try:
            with target.open("rb") as fh:
                for record in ArchiveIterator(fh):
                    if record.rec_type in ("response", "resource"):
                        # raw_stream: payload after the HTTP headers, without any decoding applied.
                        data: bytes = record.raw_stream.read()
                        break
                else:
                    raise ArchiveCorruptError(f"{target}: no response or resource record")
        except ArchiveError:
            raise
        except Exception as exc:  # warcio raises assorted errors on damaged files
            raise ArchiveCorruptError(f"{target}: unreadable WARC ({exc})") from exc
        if sha256_hex(data) != sha256:
            raise ArchiveCorruptError(f"{target}: stored bytes do not match their SHA-256")
        return data

    # -- internals -------------------------------------------------------------------------------------
    @staticmethod
    def _response_headers(headers: Mapping[str, str], length: int) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name, value in headers.items():
            if name.lower() in _WIRE_HEADERS:
                out.append((f"X-Archive-Orig-{name}", value))
            else:
                out.append((name, value))
        out.append(("Content-Length", str(length)))
        return out

    @staticmethod
    def _request_headers(url: str, method: str, headers: Mapping[str, str]) -> StatusAndHeaders:
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        items = list(headers.items())
        if not any(k.lower() == "host" for k, _ in items):
            items.insert(0, ("Host", parts.netloc))
        return StatusAndHeaders(f"{method} {target} HTTP/1.1", items, is_http_request=True)

    def _write_atomically(self, target: Path, date: str, write: Callable[[WARCWriter], None]) -> bool:
        """Write a WARC to a temp file and link it into place; False if the target appeared meanwhile."""
        if _sweep_due(self.root):
            self.sweep_stale_temp()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".warc.gz", dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                writer = WARCWriter(fh, gzip=True, warc_version="1.1")
                info = writer.create_warcinfo_record(
                    target.name,
                    {"software": f"factcheck/{__version__} (warcio)", "format": "WARC File Format 1.1"},
                )
                info.rec_headers.replace_header("WARC-Date", date)
                writer.write_record(info)
                write(writer)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
            try:
                os.link(tmp, target)  # atomic and never replaces an existing file
                created = True
            except FileExistsError:
                created = False
            except OSError:
                # File systems without hard links: fall back to rename, re-checking first.
                if target.exists():
                    created = False
                else:
                    os.replace(tmp, target)
                    created = True
            self._fsync_dir(target.parent)
            return created
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
