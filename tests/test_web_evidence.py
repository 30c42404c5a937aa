"""The claim page ties a page to the claim (a URL or an uploaded saved copy) and judges it again."""

from __future__ import annotations

from sqlalchemy import func, select

from factcheck.desk.models import ClaimEvidence, EvidenceUrl, Snapshot, Verdict
from factcheck.settings import load_settings
from factcheck.web.app import create_app
from tests.test_web import build, csrf_of, events, sign_in

PAGE = (b"<html><head><title>Retention survey</title></head><body><article><p>SignalFire ranks Amazon "
        b"in the lower third for retaining engineers, with 61 percent staying two years.</p></article></body></html>")


def tied_urls(env, cid: int) -> list[str]:
    with env.desk.session() as s:
        return list(s.execute(select(EvidenceUrl.url).join(ClaimEvidence, ClaimEvidence.evidence_url_id ==
                                                           EvidenceUrl.id).where(ClaimEvidence.claim_id == cid)
                              .order_by(EvidenceUrl.url)).scalars())


def machine_verdicts(env, cid: int) -> int:
    with env.desk.session() as s:
        return s.execute(select(func.count()).select_from(Verdict)
                         .where(Verdict.claim_id == cid, Verdict.kind == "machine")).scalar_one()


def test_upload_ties_captures_and_judges_again(desk, tmp_path):
    ids = build(desk, tmp_path)
    app = create_app(desk.desk, desk.settings)
    cid, before = ids["cid"], machine_verdicts(desk, ids["cid"])
    c = sign_in(app, "cara")
    assert "Add a page as evidence" in c.get(f"/claims/{cid}").text
    r = c.post(f"/claims/{cid}/evidence", data={"csrf": csrf_of(c), "source": "SignalFire"},
               files={"file": ("../../etc/Survey page!.html", PAGE, "text/html")})
    page = c.get(f"/claims/{cid}").text
    assert r.status_code == 303 and r.headers["location"] == f"/claims/{cid}", page[page.find("flash"):][:400]
    assert "page tied and captured; judged again in run" in page
    uploaded = [u for u in tied_urls(desk, cid) if u.startswith("file://")]
    assert len(uploaded) == 1 and "/uploads/" in uploaded[0] and uploaded[0].endswith("-Survey_page_.html")
    assert (tmp_path / "uploads").is_dir() and not (tmp_path.parent / "etc").exists()  # the name is tamed
    with desk.desk.session() as s:
        snap = s.execute(select(Snapshot).where(Snapshot.url == uploaded[0])).scalar_one()
        assert "lower third" in snap.text and snap.source is not None and snap.source.name == "SignalFire"
    assert machine_verdicts(desk, cid) == before + 1
    assert events(desk, "evidence.capture")[-1].actor == "cara"


def test_bad_evidence_forms_change_nothing(desk, tmp_path):
    ids = build(desk, tmp_path)
    cid = ids["cid"]
    small = load_settings({"db": desk.url, "evidence_dir": str(tmp_path / "evidence"), "max_bytes": 100},
                          environ={"FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1"}, desk_dir=tmp_path)
    app = create_app(desk.desk, small)
    before = (tied_urls(desk, cid), machine_verdicts(desk, cid))
    c = sign_in(app, "cara")
    both = c.post(f"/claims/{cid}/evidence", data={"csrf": csrf_of(c), "url": "https://example.org/a"},
                  files={"file": ("a.html", PAGE, "text/html")})
    assert both.status_code == 303 and "either a URL or a saved page" in c.get(f"/claims/{cid}").text
    neither = c.post(f"/claims/{cid}/evidence", data={"csrf": csrf_of(c), "url": ""})
    assert neither.status_code == 303
    big = c.post(f"/claims/{cid}/evidence", data={"csrf": csrf_of(c)}, files={"file": ("a.html", PAGE, "text/html")})
    assert big.status_code == 303 and "larger than the desk&#39;s limit of 100 bytes" in c.get(f"/claims/{cid}").text
    bad = c.post(f"/claims/{cid}/evidence", data={"csrf": csrf_of(c), "url": "http://exa mple.com/a"})
    assert bad.status_code == 303 and "flash error" in c.get(f"/claims/{cid}").text
    assert (tied_urls(desk, cid), machine_verdicts(desk, cid)) == before
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())
    vic = sign_in(app, "vic")
    assert vic.post(f"/claims/{cid}/evidence", data={"csrf": csrf_of(vic), "url": "https://example.org/a"}
                    ).status_code == 403
    assert c.post(f"/claims/{cid}/evidence", data={"csrf": "forged" * 8, "url": "https://example.org/a"}
                  ).status_code == 403
    assert (tied_urls(desk, cid), machine_verdicts(desk, cid)) == before
