"""Extraction stage: main text without boilerplate, metadata, charsets, text/WARC/PDF, refusals."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from factcheck.documents.extract import (
    MAX_INPUT_BYTES,
    Extracted,
    ExtractionError,
    decode_bytes,
    extract_bytes,
    extract_path,
)
from factcheck.errors import FactcheckError
from factcheck.text.language import detect_language
from factcheck.text.passages import split_passages

FIX = Path(__file__).parent / "fixtures" / "extract"
GERMAN = "Größere Förderung für Wärmepumpen: Bürger in München äußern „Zweifel“ – Kosten 5 €."
BOILERPLATE = [
    "Cookies", "Alle akzeptieren", "Jetzt abonnieren", "Das könnte Sie auch interessieren",
    "Heizungsgesetz", "Impressum", "Alle Rechte vorbehalten", "Wirtschaft\n", "Politik",
]


def _page(body_text: str, head: str = "") -> str:
    """A small article page whose main text is long enough to look like an article."""
    paras = "".join(f"<p>{body_text} Absatz {i} der Meldung mit weiteren Angaben zur Sache.</p>" for i in range(4))
    return (f"<html><head>{head}<title>Meldung</title></head><body>"
            f"<nav><a href='/'>Startseite</a></nav><article>{paras}</article></body></html>")


# --------------------------------------------------------------------------- HTML main text + metadata

def test_fixture_page_main_text_without_boilerplate() -> None:
    res = extract_path(FIX / "article_de.html")
    assert isinstance(res, Extracted)
    assert res.text.startswith("Die Bundesregierung hat am Montag beschlossen")
    assert "Laut Bloomberg steigt der Zuschuss" in res.text
    assert res.text.rstrip().endswith("im Frühjahr.")
    for junk in BOILERPLATE:
        assert junk not in res.text, junk
    # four article paragraphs, separated by blank lines, so passages see four paragraphs
    assert res.text.count("\n\n") == 3
    assert "\n\n\n" not in res.text
    assert len(split_passages(res.text)) >= 8


def test_fixture_page_metadata() -> None:
    res = extract_path(FIX / "article_de.html")
    assert res.title == "Wärmepumpen: Förderung steigt ab Januar"
    assert res.author == "Greta Müller"
    assert res.published == "2025-09-01"
    assert res.language == "de"
    assert res.content_type == "text/html"
    assert res.encoding == "utf-8"
    assert res.metadata["sitename"] == "Nordkurier Test"
    assert "Wärmepumpen" in res.metadata["description"]


def test_copyright_footer_is_not_a_publication_date() -> None:
    res = extract_path(FIX / "article_en_nolang.html")
    assert res.published is None  # "Copyright 2025" must not become 2025-01-01
    assert "Copyright" not in res.text and "Contact us" not in res.text
    assert "approve a budget of 1.2 billion dollars" in res.text


def test_language_from_text_when_not_declared() -> None:
    res = extract_path(FIX / "article_en_nolang.html")
    assert res.language == "en"


def test_declared_language_wins_but_disagreement_is_recorded() -> None:
    html = _page("Die Regierung hat nicht gesagt, dass die Zahl der Fälle im Jahr gestiegen ist, und es wird",
                 head="").replace("<html>", '<html lang="en-US">')
    res = extract_bytes(html.encode(), content_type="text/html")
    assert res.language == "en"
    assert res.metadata["language_detected"] == "de"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Die Bundesregierung hat am Montag beschlossen, dass die Förderung nicht mehr sinkt und wird "
         "von den Ländern mit getragen.", "de"),
        ("The government said on Monday that the number of cases was rising and that it would act "
         "with the states.", "en"),
        ("Le gouvernement a dit que les chiffres sont en hausse et que la situation est pour le moment "
         "sous contrôle dans les régions.", "fr"),
        ("ok", None),
    ],
)
def test_detect_language(text: str, lang: str | None) -> None:
    assert detect_language(text) == lang


# --------------------------------------------------------------------------- charsets

def test_cp1252_umlauts_without_declared_charset() -> None:
    raw = _page(GERMAN).encode("cp1252")
    res = extract_bytes(raw)
    assert GERMAN in res.text
    assert res.encoding == "cp1252"


def test_declared_utf8_but_bytes_are_cp1252() -> None:
    raw = _page(GERMAN, head='<meta charset="utf-8">').encode("cp1252")
    res = extract_bytes(raw, content_type="text/html; charset=utf-8")
    assert GERMAN in res.text
    assert "\ufffd" not in res.text
    assert res.encoding == "cp1252"


def test_declared_latin1_but_bytes_are_utf8() -> None:
    text, enc = decode_bytes(GERMAN.encode("utf-8"), "text/html; charset=ISO-8859-1")
    assert (text, enc) == (GERMAN, "utf-8")


def test_latin1_label_reads_cp1252_punctuation() -> None:
    text, enc = decode_bytes("„Zitat“ – 5 €".encode("cp1252"), "text/plain; charset=iso-8859-1")
    assert text == "„Zitat“ – 5 €"
    assert enc == "cp1252"


def test_meta_http_equiv_charset() -> None:
    html = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
            f"</head><body><p>{GERMAN}</p></body></html>")
    text, enc = decode_bytes(html.encode("cp1252"))
    assert GERMAN in text
    assert enc == "cp1252"


def test_http_charset_beats_meta() -> None:
    html = f'<html><head><meta charset="windows-1252"></head><body><p>{GERMAN}</p></body></html>'
    text, enc = decode_bytes(html.encode("utf-8"), "text/html; charset=utf-8")
    assert GERMAN in text and enc == "utf-8"


@pytest.mark.parametrize(("codec", "bom"), [("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"),
                                           ("utf-16-be", b"\xfe\xff")])
def test_bom(codec: str, bom: bytes) -> None:
    raw = bom + GERMAN.encode(codec)
    text, enc = decode_bytes(raw, "text/plain; charset=iso-8859-1")  # BOM describes the bytes: it wins
    assert text == GERMAN
    assert enc.startswith(codec[:6])


def test_bom_html_page_extracts() -> None:
    raw = b"\xef\xbb\xbf" + _page(GERMAN).encode("utf-8")
    res = extract_bytes(raw, content_type="text/html")
    assert GERMAN in res.text and not res.text.startswith("\ufeff")


def test_cyrillic_is_not_forced_to_cp1252() -> None:
    sample = "Правительство заявило в понедельник, что число случаев растёт. " * 5
    text, enc = decode_bytes(sample.encode("cp1251"))
    assert text == sample
    assert enc == "cp1251"


# --------------------------------------------------------------------------- plain text, WARC, PDF, gzip

def test_plain_text_kept_with_normalised_newlines() -> None:
    raw = "Erste Zeile.\r\nZweite Zeile.\r\n\r\nNeuer Absatz über Größe.\r\n".encode("cp1252")
    res = extract_bytes(raw, content_type="text/plain")
    assert res.text == "Erste Zeile.\nZweite Zeile.\n\nNeuer Absatz über Größe."
    assert res.content_type == "text/plain"
    assert res.encoding == "cp1252"


def test_plain_text_file() -> None:
    res = extract_path(FIX / "notes_de.txt")
    assert res.text.startswith("Laut Business Insider plant Amazon")
    assert res.content_type == "text/plain"
    assert res.language == "de"


def _warc(records: list[tuple[str, bytes, str]], compress: bool) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=compress)
    for uri, payload, ctype in records:
        http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(payload),
                                                      http_headers=http))
    return buf.getvalue()


@pytest.mark.parametrize("compress", [False, True])
def test_warc_first_html_response(tmp_path: Path, compress: bool) -> None:
    page = (FIX / "article_de.html").read_bytes()
    data = _warc([("https://example.org/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
                  ("https://example.org/artikel", page, "text/html; charset=utf-8")], compress)
    path = tmp_path / ("page.warc.gz" if compress else "page.warc")
    path.write_bytes(data)
    res = extract_path(path)
    assert res.text.startswith("Die Bundesregierung hat am Montag beschlossen")
    assert "Impressum" not in res.text
    assert res.title == "Wärmepumpen: Förderung steigt ab Januar"
    assert res.metadata["warc_target_uri"] == "https://example.org/artikel"
    assert res.metadata["http_status"] == "200"


def test_warc_without_html_is_refused() -> None:
    data = _warc([("https://example.org/a.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")], False)
    with pytest.raises(ExtractionError, match="no response record"):
        extract_bytes(data)


def test_gzipped_html_file(tmp_path: Path) -> None:
    path = tmp_path / "page.html.gz"
    path.write_bytes(gzip.compress((FIX / "article_de.html").read_bytes()))
    res = extract_path(path)
    assert "Laut Bloomberg" in res.text and res.language == "de"


def _pdf(text: str) -> bytes:
    """A one-page PDF with a Helvetica text line, written by hand (pypdf only reads)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (Quarterly report) /Author (Jane Roe) /CreationDate (D:20240315120000Z) >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def test_pdf_text_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(_pdf("Revenue rose by 12 percent in the first quarter."))
    res = extract_path(path)
    assert "Revenue rose by 12 percent" in res.text
    assert res.content_type == "application/pdf"
    assert res.title == "Quarterly report"
    assert res.author == "Jane Roe"
    assert res.published == "2024-03-15"


# --------------------------------------------------------------------------- refusals

@pytest.mark.parametrize(
    ("raw", "ctype"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"PK\x03\x04\x14\x00\x00\x00", None),
        (b"\x01\x02\x00\x00\x07binary\x00stuff", "application/octet-stream"),
        (b"<html>looks like text</html>", "image/gif"),
    ],
)
def test_binary_refused(raw: bytes, ctype: str | None) -> None:
    with pytest.raises(ExtractionError, match="not HTML or text"):
        extract_bytes(raw, content_type=ctype)


@pytest.mark.parametrize("raw", [b"", b"   \n\t ", b"<html><head><title>x</title></head><body>  </body></html>"])
def test_empty_refused(raw: bytes) -> None:
    with pytest.raises(ExtractionError, match="empty"):
        extract_bytes(raw, content_type="text/html")


def test_too_large_refused() -> None:
    with pytest.raises(ExtractionError, match="too large"):
        extract_bytes(b"a" * (MAX_INPUT_BYTES + 1), content_type="text/plain")


def test_gzip_bomb_refused() -> None:
    bomb = gzip.compress(b"\0" * (MAX_INPUT_BYTES + 10))
    with pytest.raises(ExtractionError, match="too large"):
        extract_bytes(bomb)


def test_broken_pdf_refused() -> None:
    with pytest.raises(ExtractionError, match="PDF"):
        extract_bytes(b"%PDF-1.4\nthis is not really a pdf", content_type="application/pdf")


def test_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="cannot read"):
        extract_path(tmp_path / "nope.html")


def test_extraction_error_is_a_factcheck_error() -> None:
    assert issubclass(ExtractionError, FactcheckError)
