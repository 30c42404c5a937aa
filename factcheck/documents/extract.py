"""Extraction stage: raw bytes (HTML, plain text, WARC, PDF) -> main text plus metadata.

The desk stores what this module returns as a snapshot's text, and `passages.split_passages`
cuts it at blank lines, so the main text always separates paragraphs with "\\n\\n".
Boilerplate (navigation, cookie banners, related links, footers, comments) is left out because a
claim must never be "verified" by text the cited source did not actually publish in its article.

`extract_bytes` may run in several threads at once (the desk's capture workers do): every call builds its
own document tree and keeps no state here, and lxml serialises the parsers that trafilatura and htmldate
share at module level (each parser holds a lock while it parses).
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factcheck.errors import FactcheckError
from factcheck.text.language import detect_language

__all__ = [
    "MAX_INPUT_BYTES",
    "Extracted",
    "ExtractionError",
    "decode_bytes",
    "extract_bytes",
    "extract_path",
]

MAX_INPUT_BYTES = 20 * 1024 * 1024
"""Refuse larger inputs: the fetcher caps downloads well below this, so bigger means pathological."""

# trafilatura logs every page it discards at WARNING; without a handler Python would print those to
# stderr. The desk reports failures itself; an application that configures logging still sees them.
for _name in ("trafilatura", "htmldate", "courlan"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


class ExtractionError(FactcheckError):
    """The content cannot be turned into text (binary, unsupported, empty, too large, broken)."""


@dataclass
class Extracted:
    """Main text and metadata of one page or document."""

    text: str
    title: str | None = None
    author: str | None = None
    published: str | None = None
    language: str | None = None
    content_type: str = "text/html"
    encoding: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- charset

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_CT_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# Legacy single-byte Western/Central European codecs that sniffers confuse with one another on
# short texts; for German/French/English pages windows-1252 is the right reading of them all.
_LATIN_CONFUSABLE = {
    "cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin_1", "iso8859_2", "iso8859_3",
    "iso8859_4", "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16",
    "mac_roman", "mac_latin2", "mac_iceland", "mac_turkish", "cp850", "cp437", "cp858",
}
_SINGLE_BYTE_WESTERN = {"latin_1", "cp1252", "iso8859_15", "ascii"}


def _codec_name(label: str | None) -> str | None:
    """Python's canonical codec name for a charset label, or None if unknown.

    ISO-8859-1 and US-ASCII labels are read as windows-1252, as browsers do (WHATWG Encoding),
    because servers that say latin-1 nearly always serve cp1252 quotes and euro signs.
    """
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'").lower()).name
    except LookupError:
        return None
    if name in ("latin-1", "iso8859-1", "ascii"):
        return "cp1252"
    return name.replace("-", "_") if name.startswith(("iso8859", "mac")) else name


def _strict(raw: bytes, codec: str) -> str | None:
    try:
        return raw.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _sniff(raw: bytes) -> tuple[str, str]:
    """Guess the charset of bytes that are not valid UTF-8."""
    guess: str | None = None
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(raw[:200_000]).best()
        guess = _codec_name(best.encoding) if best is not None else None
    except Exception:  # a sniffer failure must not lose the page; fall back below
        guess = None
    cp1252 = _strict(raw, "cp1252")
    if cp1252 is not None and (guess is None or guess.replace("-", "_") in _LATIN_CONFUSABLE):
        return cp1252, "cp1252"
    if guess:
        text = _strict(raw, guess)
        if text is not None:
            return text, guess
    return raw.decode("cp1252", errors="replace"), "cp1252"


def decode_bytes(raw: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode page bytes; returns (text, codec used).

    Order: byte-order mark (it describes the bytes themselves, so it beats any label), the HTTP
    content-type charset, <meta charset>/http-equiv, then valid UTF-8, then sniffing. A declared
    charset is not trusted blindly: declared UTF-8 that does not decode is sniffed, and a declared
    single-byte charset whose bytes are valid multi-byte UTF-8 is read as UTF-8 (a common server
    misconfiguration that would otherwise produce "GrÃ¶ÃŸe").
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            return raw[len(bom):].decode(codec, errors="replace"), codec.replace("-le", "").replace("-be", "")

    declared: list[str] = []
    if content_type:
        m = _CT_CHARSET.search(content_type)
        if m and (name := _codec_name(m.group(1))):
            declared.append(name)
    m2 = _META_CHARSET.search(raw[:8192])
    if m2 and (name := _codec_name(m2.group(1).decode("ascii", "ignore"))):
        declared.append(name)

    utf8 = _strict(raw, "utf-8")
    for codec in declared:
        if codec in ("utf_16", "utf_32", "utf-16", "utf-32"):
            continue  # a <meta> that says UTF-16 in ASCII-readable bytes is necessarily wrong
        if codec == "utf-8":
            if utf8 is not None:
                return utf8, "utf-8"
            break  # declared UTF-8 but it is not: sniff
        if codec.replace("-", "_") in _SINGLE_BYTE_WESTERN | _LATIN_CONFUSABLE and utf8 is not None and not raw.isascii():
            return utf8, "utf-8"
        text = _strict(raw, codec)
        if text is not None:
            return text, codec
    if utf8 is not None:
        return utf8, "utf-8"
    return _sniff(raw)


# --------------------------------------------------------------------------- language

def _normalise_lang(value: str | None) -> str | None:
    if not value:
        return None
    m = re.match(r"\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*\s*$", value)
    return m.group(1).lower() if m else None


# --------------------------------------------------------------------------- content sniffing

_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"),
    (b"PK\x03\x04", "application/zip"), (b"RIFF", "application/octet-stream"), (b"BM", "image/bmp"),
    (b"\x00\x00\x01\x00", "image/x-icon"), (b"OggS", "audio/ogg"), (b"ID3", "audio/mpeg"),
    (b"\x7fELF", "application/octet-stream"), (b"7z\xbc\xaf", "application/x-7z-compressed"),
    (b"Rar!", "application/x-rar"), (b"%!PS", "application/postscript"), (b"wOFF", "font/woff"),
)
_HTML_HINT = re.compile(rb"<(?:!doctype\s+html|html|head|body|p|div|article|title|meta)[\s>/]", re.IGNORECASE)


def _base_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _kind(raw: bytes, content_type: str | None, name: str | None) -> str:
    """Classify the input as html, text, pdf, warc or gzip (refusing binary) from magic, type and name."""
    head = raw[:1024]
    if raw.startswith(b"%PDF-"):
        return "pdf"
    if raw.startswith(b"\x1f\x8b"):
        return "gzip"
    if raw.startswith(b"WARC/"):
        return "warc"
    for magic, ctype in _BINARY_MAGIC:
        if raw.startswith(magic):
            raise ExtractionError(f"not HTML or text: binary content ({ctype})")
    base = _base_type(content_type)
    lname = (name or "").lower()
    if base.startswith(("image/", "audio/", "video/", "font/")) or base in (
        "application/zip", "application/gzip", "application/x-tar", "application/vnd.ms-excel",
    ):
        raise ExtractionError(f"not HTML or text: unsupported content type {base}")
    if base == "application/pdf" or lname.endswith(".pdf"):
        raise ExtractionError("declared PDF but the bytes are not a PDF")
    bom_text = any(raw.startswith(b) for b, _ in _BOMS)
    if not bom_text and b"\x00" in raw[:8192]:
        raise ExtractionError("not HTML or text: binary content (NUL bytes)")
    if base in ("text/html", "application/xhtml+xml") or lname.endswith((".html", ".htm", ".xhtml")):
        return "html"
    if base == "text/plain" or lname.endswith((".txt", ".text", ".md")):
        return "text"
    return "html" if _HTML_HINT.search(head if not bom_text else raw[:4096].replace(b"\x00", b"")) else "text"


# --------------------------------------------------------------------------- plain text

def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _extract_text(raw: bytes, content_type: str | None) -> Extracted:
    text, enc = decode_bytes(raw, content_type)
    body = _normalise_newlines(text).strip("\n\ufeff")
    if not body.strip():
        raise ExtractionError("empty extraction: the text file has no content")
    return Extracted(text=body, content_type="text/plain", encoding=enc,
                     language=detect_language(body), metadata={})


# --------------------------------------------------------------------------- HTML

# Options chosen on the extraction benchmark (see benchmarks/extraction_bench.py): precision mode
# drops teaser blocks and link lists that balanced mode keeps, comments are not the publisher's
# text, and tables carry figures that claims cite.
_PRECISE: dict[str, Any] = {
    "favor_precision": True, "include_comments": False, "include_tables": True,
    "include_links": False, "include_images": False, "deduplicate": False,
}
_BALANCED: dict[str, Any] = {**_PRECISE, "favor_precision": False}
# If precision mode returns less than this many characters while balanced mode finds several times
# more, precision mode has thrown the article away (e.g. kept only a reprint notice).
_SHORT_CHARS = 1500
_SHORT_RATIO = 3


def _paragraphs(text: str) -> str:
    """One block per line from trafilatura -> blocks separated by a blank line, whitespace tidied."""
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in _normalise_newlines(text).split("\n"))
    return "\n\n".join(line for line in lines if line)


def _html_lang(tree: Any) -> str | None:
    for xp in ("/html/@lang", "/html/@xml:lang", "//body/@lang",
               "//meta[translate(@http-equiv,'CONTENTLANGUAGE','contentlanguage')='content-language']/@content",
               "//meta[@property='og:locale']/@content", "//meta[@name='language']/@content",
               "//meta[@name='dc.language' or @name='DC.language']/@content"):
        try:
            values = tree.xpath(xp)
        except Exception:
            continue
        for v in values:
            lang = _normalise_lang(str(v).split(",")[0])
            if lang:
                return lang
    return None


def _iso_date(value: str | None) -> str | None:
    m = re.match(r"(\d{4}-\d{2}-\d{2})", value or "")
    return m.group(1) if m else None


# Dates from markup only (meta tags, JSON-LD, <time>, URL). The free-text search is run separately
# in _text_date, because its last resorts turn a "© 2025" footer into "2025-01-01".
_DATE_PARAMS: dict[str, Any] = {"original_date": True, "extensive_search": False}


def _text_date(tree: Any) -> str | None:
    """A date found in the page's visible text, refusing the year/month-only fallbacks (day 01)."""
    try:
        from htmldate import find_date

        found = find_date(tree, extensive_search=True, original_date=True, outputformat="%Y-%m-%d")
    except Exception:  # date guessing is best effort
        return None
    value = _iso_date(found)
    return value if value and not value.endswith("-01") else None


def _main_text(tree: Any, url: str | None) -> tuple[str, Any, str]:
    """Main text, trafilatura's metadata document (or None) and the method that produced the text."""
    import trafilatura

    doc: Any = trafilatura.bare_extraction(tree, url=url, with_metadata=True,
                                           date_extraction_params=_DATE_PARAMS, **_PRECISE)
    text = doc.text if doc is not None and doc.text else ""
    method = "precision"
    if len(text) < _SHORT_CHARS:
        alt: Any = trafilatura.bare_extraction(tree, url=url, **_BALANCED)
        alt_text = alt.text if alt is not None and alt.text else ""
        if len(alt_text) > _SHORT_RATIO * len(text):
            text, method = alt_text, "balanced"
    if not text.strip():
        try:
            text = trafilatura.baseline(tree)[1] or ""
            method = "baseline"
        except Exception:
            text = ""
    if doc is None:
        try:
            doc = trafilatura.extract_metadata(tree, default_url=url, date_config=_DATE_PARAMS)
        except Exception:
            doc = None
    return text, doc, method


def _extract_html(raw: bytes, content_type: str | None, url: str | None) -> Extracted:
    from trafilatura.utils import load_html

    html, enc = decode_bytes(raw, content_type)
    # lxml refuses str input with an XML encoding declaration; the text is already decoded.
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    tree = load_html(html)
    if tree is None:
        # trafilatura rejects fragments that do not look like a document; wrap them.
        tree = load_html(f"<html><body><div>{html}</div></body></html>")
    if tree is None:
        raise ExtractionError("not HTML: the markup could not be parsed")
    declared_lang = _html_lang(tree)
    text, doc, method = _main_text(tree, url)
    body = _paragraphs(text)
    if not body:
        raise ExtractionError("empty extraction: no main text found in the page")

    meta: dict[str, Any] = {"extraction_method": method}
    title = author = published = None
    if doc is not None:
        title, author, published = doc.title or None, doc.author or None, _iso_date(doc.date)
        for key in ("sitename", "description", "hostname", "url", "image", "pagetype", "license"):
            value = getattr(doc, key, None)
            if value:
                meta[key] = value
        for key in ("categories", "tags"):
            value = getattr(doc, key, None)
            if value:
                meta[key] = list(value)
    if published:
        meta["date_source"] = "markup"
    elif (published := _text_date(tree)) is not None:
        meta["date_source"] = "text"
    detected = detect_language(body)
    if detected and declared_lang and detected != declared_lang:
        meta["language_detected"] = detected
    return Extracted(text=body, title=title, author=author, published=published,
                     language=declared_lang or detected, content_type="text/html", encoding=enc,
                     metadata=meta)


# --------------------------------------------------------------------------- PDF

def _pdf_date(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d"))
    m = re.match(r"(?:D:)?(\d{4})(\d{2})(\d{2})", str(value))
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None


def _extract_pdf(raw: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("PDF is encrypted")
        pages = [_normalise_newlines(p.extract_text() or "").strip() for p in reader.pages]
        info = reader.metadata
    except ExtractionError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionError(f"unreadable PDF: {exc}") from exc
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise ExtractionError("empty extraction: the PDF has no text layer (scanned?)")
    title = author = published = None
    meta: dict[str, Any] = {"pages": len(pages)}
    if info is not None:
        title = (info.title or "").strip() or None
        author = (info.author or "").strip() or None
        try:
            published = _pdf_date(info.creation_date)
        except Exception:  # malformed date strings are common in PDFs
            published = _pdf_date(info.get("/CreationDate"))
    return Extracted(text=text, title=title, author=author, published=published,
                     language=detect_language(text), content_type="application/pdf", encoding=None,
                     metadata=meta)


# --------------------------------------------------------------------------- WARC

def _extract_warc(raw: bytes) -> Extracted:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    try:
        for record in ArchiveIterator(io.BytesIO(raw)):
            if record.rec_type not in ("response", "resource"):
                continue
            if record.rec_type == "response" and record.http_headers is not None:
                ctype = record.http_headers.get_header("Content-Type")
                status = record.http_headers.get_statuscode()
            else:
                ctype = record.rec_headers.get_header("Content-Type")
                status = None
            base = _base_type(ctype)
            if base and not (base.startswith("text/") or base in ("application/xhtml+xml", "application/pdf")):
                continue
            payload = record.content_stream().read(MAX_INPUT_BYTES + 1)
            if not payload:
                continue
            uri = record.rec_headers.get_header("WARC-Target-URI")
            result = extract_bytes(payload, content_type=ctype, url=uri)
            result.metadata.update({"warc_target_uri": uri,
                                    "warc_date": record.rec_headers.get_header("WARC-Date"),
                                    "http_status": status})
            return result
    except (ArchiveLoadFailed, OSError, EOFError, zlib.error, ValueError) as exc:
        raise ExtractionError(f"unreadable WARC: {exc}") from exc
    raise ExtractionError("WARC holds no response record with an HTML or text payload")


# --------------------------------------------------------------------------- entry points

def _gunzip(raw: bytes) -> bytes:
    """Decompress, refusing gzip bombs past MAX_INPUT_BYTES."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, MAX_INPUT_BYTES + 1)
    except zlib.error as exc:
        raise ExtractionError(f"broken gzip data: {exc}") from exc
    if len(out) > MAX_INPUT_BYTES:
        raise ExtractionError(f"input too large after decompression (> {MAX_INPUT_BYTES} bytes)")
    return out


def extract_bytes(raw: bytes, *, content_type: str | None = None, url: str | None = None,
                  filename: str | None = None) -> Extracted:
    """Main text and metadata of raw bytes; content_type (with charset) and filename are hints."""
    if len(raw) > MAX_INPUT_BYTES:
        raise ExtractionError(f"input too large ({len(raw)} bytes > {MAX_INPUT_BYTES})")
    if not raw.strip():
        raise ExtractionError("empty extraction: no content")
    kind = _kind(raw, content_type, filename or url)
    if kind == "gzip":
        if _is_warc_gz(raw):
            return _extract_warc(raw)
        inner_name = re.sub(r"\.gz$", "", filename or "", flags=re.IGNORECASE) or None
        base = _base_type(content_type)
        inner_type = None if base in ("application/gzip", "application/x-gzip") else content_type
        return extract_bytes(_gunzip(raw), content_type=inner_type, url=url, filename=inner_name)
    if kind == "pdf":
        return _extract_pdf(raw)
    if kind == "warc":
        return _extract_warc(raw)
    if kind == "text":
        return _extract_text(raw, content_type)
    return _extract_html(raw, content_type, url)


def _is_warc_gz(raw: bytes) -> bool:
    """A .warc.gz is a series of gzip members, the first of which starts with 'WARC/'."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return d.decompress(raw[:4096], 16).startswith(b"WARC/")
    except zlib.error:
        return False


def extract_path(path: str | Path) -> Extracted:
    """Extract a local file (.html/.htm/.txt/.warc/.warc.gz/.pdf, gzip-compressed HTML too)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise ExtractionError(f"{p}: file too large ({size} bytes > {MAX_INPUT_BYTES})")
        raw = p.read_bytes()
    except OSError as exc:
        raise ExtractionError(f"{p}: cannot read file: {exc.strerror or exc}") from exc
    try:
        result = extract_bytes(raw, filename=p.name)
    except ExtractionError as exc:
        raise ExtractionError(f"{p.name}: {exc}") from exc
    result.metadata.setdefault("filename", p.name)
    return result
