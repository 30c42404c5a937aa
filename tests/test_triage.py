"""Triage queue and assignments: order, filters, changed sources, atomic `next`, expiry; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, text, update

from factcheck.desk.cases import import_case
from factcheck.desk.evidence import latest_snapshot, store_capture
from factcheck.desk.models import AuditEvent, Claim, EvidenceUrl, Run, Verdict, utcnow
from factcheck.desk.triage import (
    NoIdentity,
    TriageError,
    claims_with_changed_sources,
    next_claim,
    release,
    review,
    triage_queue,
)
from factcheck.desk.verify import verify

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"
BI = "https://www.businessinsider.com/report"
FACTCHECK_BIN = shutil.which("factcheck", path=str(Path(sys.executable).parent)) or "factcheck"

EXTRA = {  # key: (text, checkworthiness)
    "C4": ("Amazon verliert Talente an OpenAI und Anthropic.", 0.9),
    "C5": ("Amazon zahlt feste Gehaltsbänder.", None),
    "C6": ("Das Dokument nennt drei Hürden.", None),
    "C7": ("Die Hub-Strategie gilt weltweit.", None),
    "C8": ("Amazon hat mehr als 300.000 Angestellte im Büro.", None),
}


def build(env, tmp_path: Path) -> None:
    """The fixture case plus five claims, imported and verified, then pinned to known machine labels."""
    folder = tmp_path / "case"
    shutil.copytree(CASE_DIR, folder)
    data = yaml.safe_load((folder / "case.yaml").read_text())
    for key, (txt, cw) in EXTRA.items():
        data["claims"].append({"id": key, "text": txt, **({"checkworthiness": cw} if cw is not None else {})})
    (folder / "case.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    with env.desk.session() as s:
        import_case(s, env.settings, folder / "case.yaml", actor="t")
    verify(env.desk, env.settings, actor="t")
    with env.desk.session() as s:
        s.execute(update(Claim).where(Claim.key == "C3").values(checkworthiness=0.2))
        bi = latest_snapshot(s, BI)
        assert bi is not None
        quote = {"url": BI, "snapshot_sha256": bi.sha256, "quote": bi.text[0:40], "start": 0, "end": 40,
                 "source": "Business Insider", "role": "supports"}
        run = Run(version="test", actor="t", finished_at=utcnow())
        s.add(run)
        s.flush()
        pinned = {"C1": ("verified", 0.95, [quote]), "C2": ("contested", 0.8, []), "C3": ("unverified", 0.6, []),
                  "C4": ("unverified", 0.6, []), "C5": ("verified", 0.5, []), "C6": ("verified", 0.9, []),
                  "C7": ("unverified", 0.5, []), "C8": ("verified", 0.9, [])}
        for key, (label, conf, quotes) in pinned.items():
            cid = s.execute(select(Claim.id).where(Claim.key == key)).scalar_one()
            s.add(Verdict(claim_id=cid, run_id=run.id, kind="machine", label=label, confidence=conf,
                          rationale="pinned by the test", quotes=quotes))
    with env.desk.session() as s:  # people settled C6 (quoting the page) and C7 (no quote)
        review(s, "C6", label="verified", note="checked the page", by="rev", quotes=[f"{BI}#0-40"])
        review(s, "C7", label="contested", note="the hub rule is not global", by="rev")


def keys(items) -> list[str]:
    return [it.key for it in items]


def refetch_changed_page(env) -> None:
    with env.desk.session() as s:
        eu = s.execute(select(EvidenceUrl).where(EvidenceUrl.url == BI)).scalar_one()
        store_capture(s, env.settings, url=BI, body=b"The page now says something else entirely.\n",
                      origin="fetch", evidence_url=eu, status=200, content_type="text/plain")


def test_queue_order_and_membership(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        items = triage_queue(s)
    # contested, then unverified by check-worthiness (C4 0.9 > C3 0.2 > C2's none), then low-confidence verified;
    # confident verified (C1, C8) and reviewed claims (C6, C7) stay out
    assert keys(items) == ["C2", "C4", "C3", "C5"]
    by_key = {it.key: it for it in items}
    assert by_key["C5"].reasons == ["low confidence 0.50"]
    assert by_key["C2"].status == "contested" and by_key["C2"].kind == "machine"
    assert by_key["C2"].last_action is not None and by_key["C2"].last_action["action"] == "verdict.machine"
    d = by_key["C4"].as_dict()
    assert d["assignee"] is None and d["revision"] == 0 and d["age_seconds"] >= 0


def test_changed_source_brings_claims_back(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        assert claims_with_changed_sources(s) == {}
    refetch_changed_page(desk)
    with desk.desk.session() as s:
        changed = claims_with_changed_sources(s)
        names = {s.get(Claim, cid).key: [c.kind for c in ch] for cid, ch in changed.items()}
        items = triage_queue(s)
    # C1 (machine) and C6 (reviewed) quoted the old capture; C7's review quoted nothing and stays settled
    assert names == {"C1": ["changed"], "C6": ["changed"]}
    assert keys(items) == ["C2", "C4", "C3", "C6", "C1", "C5"]
    c6 = next(it for it in items if it.key == "C6")
    assert c6.kind == "human" and c6.reasons == ["source changed"] and c6.source_changed
    with desk.desk.session() as s:
        assert keys(triage_queue(s, status="source-changed")) == ["C6", "C1"]


def test_new_capture_of_linked_url_counts_as_new_evidence(desk, tmp_path):
    """C2's page (SignalFire) had no capture when it was judged; a first capture sends it back."""
    build(desk, tmp_path)
    with desk.desk.session() as s:
        review(s, "C2", label="unverified", note="SignalFire page not captured yet", by="rev")
        assert "C2" not in keys(triage_queue(s))
    with desk.desk.session() as s:
        eu = s.execute(select(EvidenceUrl).where(EvidenceUrl.url.like("%signalfire%"))).scalar_one()
        store_capture(s, desk.settings, url=eu.url, body=b"Amazon ranks in the lower third for retention.\n",
                      origin="fetch", evidence_url=eu, status=200, content_type="text/plain")
    with desk.desk.session() as s:
        c2 = next(it for it in triage_queue(s) if it.key == "C2")
    assert c2.reasons == ["new evidence"] and c2.changes[0].kind == "new"


def test_filters(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        assert keys(triage_queue(s, source="SignalFire")) == ["C2"]
        assert keys(triage_queue(s, source="bi")) == []  # C1 (the BI claim) is not in the queue
        assert keys(triage_queue(s, status="unverified")) == ["C4", "C3"]
        assert keys(triage_queue(s, article="https://news.example/amazon-ki")) == ["C2", "C4", "C3", "C5"]
        assert keys(triage_queue(s, article="https://elsewhere.example/")) == []
        with pytest.raises(TriageError, match="unknown status"):
            triage_queue(s, status="maybe")
    with desk.desk.session() as s:
        next_claim(s, by="ana", minutes=30)
    with desk.desk.session() as s:
        assert keys(triage_queue(s, assignee="ana")) == ["C2"]
        assert keys(triage_queue(s, assignee="bob")) == []


def test_next_takes_queue_order_and_skips_held_claims(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        a = next_claim(s, by="ana", minutes=30)
    with desk.desk.session() as s:
        b = next_claim(s, by="bob", minutes=30)
    assert a is not None and b is not None
    assert (a.key, b.key) == ("C2", "C4")
    assert a.revision == 0 and a.detail["evidence_urls"][0]["url"].startswith("https://www.signalfire.com")
    with desk.desk.session() as s:
        items = {it.key: it for it in triage_queue(s)}
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == "claim.assign")
                       .order_by(AuditEvent.id)).scalars().first()
    assert items["C2"].assignee == "ana" and items["C4"].assignee == "bob"
    assert items["C2"].last_action is not None and items["C2"].last_action["actor"] == "ana"
    assert ev is not None and ev.actor == "ana" and ev.after["assignee"] == "ana" and ev.after["revision"] == 0
    with desk.desk.session() as s:
        taken = [next_claim(s, by="cy", minutes=30) for _ in range(3)]
    assert [t.key if t else None for t in taken] == ["C3", "C5", None]


def test_next_needs_identity(desk, tmp_path):
    build(desk, tmp_path)
    with pytest.raises(NoIdentity, match="FACTCHECK_USER"), desk.desk.session() as s:
        next_claim(s, by="  ", minutes=30)


def test_expiry_releases_the_assignment(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        assert next_claim(s, by="ana", minutes=30).key == "C2"  # type: ignore[union-attr]
    with desk.desk.session() as s:  # a person asking now does not get ana's claim
        assert next_claim(s, by="bob", minutes=30).key == "C4"  # type: ignore[union-attr]
    with desk.desk.session() as s:
        s.execute(update(Claim).where(Claim.key == "C2").values(assigned_until=utcnow() - timedelta(seconds=1)))
    with desk.desk.session() as s:
        assert next(it for it in triage_queue(s) if it.key == "C2").assignee is None
        got = next_claim(s, by="cy", minutes=30)
    assert got is not None and got.key == "C2" and got.took_over_from == "ana"
    with desk.desk.session() as s:
        c2 = s.execute(select(Claim).where(Claim.key == "C2")).scalar_one()
        events = [(e.action, e.actor, (e.after or {}).get("reason")) for e in s.execute(
            select(AuditEvent).where(AuditEvent.claim_id == c2.id).order_by(AuditEvent.id)).scalars()]
    assert c2.assignee == "cy"
    assert events[-2:] == [("claim.release", "cy", "expired"), ("claim.assign", "cy", None)]


def test_release(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        next_claim(s, by="ana", minutes=30)
    with pytest.raises(TriageError, match="assigned to ana"), desk.desk.session() as s:
        release(s, "C2", by="bob")
    with desk.desk.session() as s:
        release(s, "C2", by="ana")
    with desk.desk.session() as s:
        assert next_claim(s, by="bob", minutes=30).key == "C2"  # type: ignore[union-attr]


# ---------------------------------------------------------------- concurrency


@pytest.fixture(params=["sqlite-file", "postgresql"])
def shared_desk(request: pytest.FixtureRequest) -> Iterator[object]:
    """A desk separate processes can open: a SQLite file or a PostgreSQL database."""
    yield request.getfixturevalue("sqlite_desk" if request.param == "sqlite-file" else "pg_desk")


def test_concurrent_next_from_processes_never_share_a_claim(shared_desk, tmp_path):
    build(shared_desk, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTCHECK_")}
    procs = [
        subprocess.Popen([FACTCHECK_BIN, "--db", shared_desk.url, "triage", "next", "--by", f"p{i}", "--json"],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    got = [json.loads(o) for o, _ in results]
    taken = sorted(g["id"] for g in got)
    assert taken == ["C2", "C3", "C4", "C5"]  # four people, the four free claims, no claim twice
    with shared_desk.desk.session() as s:
        holders = dict(s.execute(select(Claim.key, Claim.assignee).where(Claim.assignee.is_not(None))).all())
    assert holders == {g["id"]: g["assignee"] for g in got}


def test_postgres_skips_a_claim_locked_by_an_open_transaction(pg_desk, tmp_path):
    """While one transaction is taking C2 (not yet committed), another `next` takes C4 instead of waiting."""
    build(pg_desk, tmp_path)
    result: dict[str, object] = {}

    def second() -> None:
        with pg_desk.desk.session() as s:
            got = next_claim(s, by="bob", minutes=30)
            result["key"] = got.key if got else None

    with pg_desk.desk.session() as s:
        first = next_claim(s, by="ana", minutes=30)
        assert first is not None and first.key == "C2"
        t = threading.Thread(target=second)
        t.start()
        # bob has passed the row choice once he waits for the audit-chain lock that ana's transaction holds
        with pg_desk.desk.engine.connect() as probe:
            for _ in range(600):
                # only this test's database: other tests' databases on the same server take advisory locks too
                waiting = probe.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())")).scalar()
                if waiting:
                    break
                threading.Event().wait(0.05)
            assert waiting, "the second transaction never reached the audit lock"
    t.join(timeout=60)
    assert result["key"] == "C4"


def test_why_never_repeats_the_status(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        items = triage_queue(s)
    assert items
    for it in items:
        assert it.status not in ", ".join(it.reasons), (it.status, it.reasons)
        assert it.reasons  # every queued claim says why it is there
