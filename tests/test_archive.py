"""The content-addressed WARC evidence archive: round trip, replayability by warcio, immutability."""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from factcheck.documents.archive import (
    Archive,
    ArchiveCorruptError,
    ArchiveError,
    ArchiveNotFoundError,
)
from factcheck.errors import FactcheckError

WHEN = datetime(2025, 9, 1, 12, 30, 15, 123456, tzinfo=UTC)
# Latin-1 bytes, a NUL and CRLFs: the archive must keep every byte exactly as given.
BODY = b"<html><body>Caf\xe9 \x00 \r\n<p>SignalFire data shows 600</p>\r\n</body></html>"


def _records(path: Path) -> list:
    """Read every record with warcio, as an independent replay tool would."""
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            out.append(
                {
                    "type": rec.rec_type,
                    "uri": rec.rec_headers.get_header("WARC-Target-URI"),
                    "date": rec.rec_headers.get_header("WARC-Date"),
                    "id": rec.rec_headers.get_header("WARC-Record-ID"),
                    "concurrent": rec.rec_headers.get_header("WARC-Concurrent-To"),
                    "ctype": rec.rec_headers.get_header("Content-Type"),
                    "http": rec.http_headers,
                    "payload": rec.content_stream().read(),
                }
            )
    return out


def test_store_round_trip_and_layout(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "evidence")
    cap = archive.store(
        url="https://www.example.org/news/a?x=1",
        body=BODY,
        status=200,
        headers={"Content-Type": "text/html; charset=utf-8", "ETag": '"v1"'},
        fetched_at=WHEN,
        request_headers={"User-Agent": "factcheck-test", "Accept": "text/html"},
    )
    sha = hashlib.sha256(BODY).hexdigest()
    assert cap.sha256 == sha
    assert cap.path == f"warc/{sha[:2]}/{sha}.warc.gz"
    assert cap.warc_path == tmp_path / "evidence" / cap.path
    assert cap.created is True
    assert cap.warc_path.is_file()
    assert archive.exists(sha)
    assert archive.read_body(sha) == BODY
    # No temp files left behind.
    assert [p.name for p in cap.warc_path.parent.iterdir()] == [cap.warc_path.name]


def test_warcio_can_replay_response_request_and_warcinfo(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    url = "https://www.example.org/news/a?x=1"
    cap = archive.store(
        url=url,
        body=BODY,
        status=200,
        headers={"Content-Type": "text/html", "Server": "test"},
        fetched_at=WHEN,
        request_headers={"User-Agent": "factcheck-test"},
    )
    recs = _records(cap.warc_path)
    assert [r["type"] for r in recs] == ["warcinfo", "response", "request"]
    info, resp, req = recs
    assert b"factcheck/" in info["payload"]
    assert resp["uri"] == url and req["uri"] == url
    assert resp["date"] == req["date"] == "2025-09-01T12:30:15.123456Z"
    assert req["concurrent"] == resp["id"]
    assert resp["ctype"] == "application/http; msgtype=response"
    assert resp["http"].get_statuscode() == "200"
    assert resp["http"].get_header("Content-Type") == "text/html"
    assert resp["http"].get_header("Content-Length") == str(len(BODY))
    assert resp["payload"] == BODY
    assert req["http"].protocol == "GET"
    assert req["http"].statusline == "/news/a?x=1 HTTP/1.1"
    assert req["http"].get_header("Host") == "www.example.org"
    assert req["http"].get_header("User-Agent") == "factcheck-test"


def test_wire_encoding_headers_are_renamed_because_body_is_decoded(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    cap = archive.store(
        url="http://example.org/",
        body=BODY,
        status=200,
        headers={"Content-Encoding": "gzip", "Content-Length": "17", "Content-Type": "text/html"},
        fetched_at=WHEN,
    )
    resp = next(r for r in _records(cap.warc_path) if r["type"] == "response")
    http = resp["http"]
    assert http.get_header("Content-Encoding") is None
    assert http.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert http.get_header("X-Archive-Orig-Content-Length") == "17"
    assert http.get_header("Content-Length") == str(len(BODY))
    # A replay tool decoding by the headers gets the body unchanged (not a gzip error).
    assert resp["payload"] == BODY


def test_non_200_status_line_is_kept(tmp_path: Path) -> None:
    cap = Archive(tmp_path).store(
        url="http://example.org/gone", body=b"gone", status=410, headers={}, fetched_at=WHEN
    )
    resp = next(r for r in _records(cap.warc_path) if r["type"] == "response")
    assert resp["http"].statusline == "410 Gone"


def test_same_bytes_are_never_rewritten(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    first = archive.store(url="http://a.example/", body=BODY, status=200, headers={}, fetched_at=WHEN)
    before = first.warc_path.read_bytes()
    mtime = first.warc_path.stat().st_mtime_ns
    again = archive.store(
        url="http://b.example/other", body=BODY, status=200, headers={"X": "y"}, fetched_at=datetime.now(UTC)
    )
    assert again.created is False
    assert again.warc_path == first.warc_path
    assert first.warc_path.read_bytes() == before
    assert first.warc_path.stat().st_mtime_ns == mtime
    # The first capture of those bytes is what the file describes.
    assert next(r for r in _records(first.warc_path) if r["type"] == "response")["uri"] == "http://a.example/"


def test_archived_files_are_read_only(tmp_path: Path) -> None:
    cap = Archive(tmp_path).store(url="http://a.example/", body=b"x", status=200, headers={}, fetched_at=WHEN)
    assert cap.warc_path.stat().st_mode & 0o222 == 0


def test_changed_bytes_get_a_new_capture(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    a = archive.store(url="http://a.example/", body=b"version 1", status=200, headers={}, fetched_at=WHEN)
    b = archive.store(url="http://a.example/", body=b"version 2", status=200, headers={}, fetched_at=WHEN)
    assert a.sha256 != b.sha256 and a.warc_path != b.warc_path
    assert archive.read_body(a.sha256) == b"version 1"
    assert archive.read_body(b.sha256) == b"version 2"


def test_concurrent_writers_of_the_same_bytes_produce_one_intact_file(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    results = []
    barrier = threading.Barrier(4)

    def worker(i: int) -> None:
        barrier.wait()
        results.append(
            archive.store(url=f"http://h{i}.example/", body=BODY, status=200, headers={}, fetched_at=WHEN)
        )

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.warc_path for r in results}) == 1
    assert sum(r.created for r in results) >= 1
    assert archive.read_body(results[0].sha256) == BODY
    assert [p.name for p in results[0].warc_path.parent.iterdir()] == [results[0].warc_path.name]


def test_store_file_writes_a_resource_record(tmp_path: Path) -> None:
    page = tmp_path / "bi.html"
    page.write_bytes(BODY)
    os.utime(page, (WHEN.timestamp(), WHEN.timestamp()))
    archive = Archive(tmp_path / "evidence")
    cap = archive.store_file(url="https://www.businessinsider.com/x", path=page)
    assert cap.sha256 == hashlib.sha256(BODY).hexdigest()
    assert archive.read_body(cap.sha256) == BODY
    recs = _records(cap.warc_path)
    assert [r["type"] for r in recs] == ["warcinfo", "resource"]
    res = recs[1]
    assert res["uri"] == "https://www.businessinsider.com/x"
    assert res["ctype"] == "text/html"
    assert res["date"].startswith("2025-09-01T12:30:15")
    assert res["payload"] == BODY


def test_store_file_from_bytes_without_url(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    cap = archive.store_file(body=b"plain text evidence", content_type="text/plain")
    res = _records(cap.warc_path)[1]
    assert res["uri"] == f"urn:sha256:{cap.sha256}"
    assert res["ctype"] == "text/plain"
    with pytest.raises(ArchiveError):
        archive.store_file()
    with pytest.raises(ArchiveError):
        archive.store_file(body=b"x", path=tmp_path / "x")
    with pytest.raises(ArchiveError):
        archive.store_file(path=tmp_path / "missing.html")


def test_empty_body_round_trips(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    cap = archive.store(url="http://a.example/", body=b"", status=204, headers={}, fetched_at=WHEN)
    assert archive.read_body(cap.sha256) == b""


def test_missing_capture_raises_typed_error(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    sha = hashlib.sha256(b"never stored").hexdigest()
    assert not archive.exists(sha)
    with pytest.raises(ArchiveNotFoundError):
        archive.read_body(sha)


def test_bad_keys_cannot_escape_the_archive(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    for key in ["../../etc/passwd", "ABC", "0" * 63, "g" * 64, "0" * 64 + "/x"]:
        with pytest.raises(ArchiveError):
            archive.exists(key)
        with pytest.raises(FactcheckError):
            archive.read_body(key)


def test_tampered_capture_is_detected_on_read(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    cap = archive.store(
        url="http://a.example/", body=b"original text", status=200, headers={}, fetched_at=WHEN
    )
    raw = gzip.decompress(cap.warc_path.read_bytes()).replace(b"original text", b"tampered text")
    os.chmod(cap.warc_path, 0o644)
    cap.warc_path.write_bytes(gzip.compress(raw))
    with pytest.raises(ArchiveCorruptError):
        archive.read_body(cap.sha256)


def test_garbage_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    cap = archive.store(url="http://a.example/", body=b"abc", status=200, headers={}, fetched_at=WHEN)
    os.chmod(cap.warc_path, 0o644)
    cap.warc_path.write_bytes(b"this is not a warc file")
    with pytest.raises(ArchiveCorruptError):
        archive.read_body(cap.sha256)


def test_temp_files_left_by_killed_writes_are_swept_on_the_next_write(tmp_path: Path) -> None:
    """A fetch killed mid-write leaves a `.tmp-*.warc.gz`; the next write of any Archive removes those older
    than STALE_TEMP_SECONDS and leaves younger ones (a write in progress in another process) alone."""
    import time

    from factcheck.documents.archive import STALE_TEMP_SECONDS

    root = tmp_path / "evidence"
    stale = [root / "warc" / "ab" / ".tmp-killed1.warc.gz", root / "warc" / "cd" / ".tmp-killed2.warc.gz"]
    fresh = root / "warc" / "ab" / ".tmp-writing.warc.gz"
    keep = root / "warc" / "ab" / "not-a-temp.warc.gz"
    for p in [*stale, fresh, keep]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    old = time.time() - STALE_TEMP_SECONDS - 60
    for p in [*stale, keep]:
        os.utime(p, (old, old))
    archive = Archive(root)
    assert all(p.exists() for p in stale)  # opening alone changes nothing
    archive.store(url="https://example.org/a", body=BODY, status=200, headers={}, fetched_at=WHEN)
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and keep.exists()
    assert archive.sweep_stale_temp(older_than=0) == [fresh]
