"""The pages and actions of the web desk. Handlers check the role, call the library, render or redirect."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session, defer, joinedload, selectinload
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from factcheck import report as report_mod
from factcheck.desk import attach as attach_mod
from factcheck.desk import authoring, triage, users
from factcheck.desk import comments as comments_mod
from factcheck.desk import counts as counts_mod
from factcheck.desk import jobs as jobs_mod
from factcheck.desk import queue as queue_mod
from factcheck.desk import runs as runs_mod
from factcheck.desk import search as search_mod
from factcheck.desk import sources as sources_mod
from factcheck.desk import tags as tags_mod
from factcheck.desk import verify as verify_mod
from factcheck.desk.claims import (
    UnknownClaim,
    fold_repeats,
    list_claims,
    verdict_history,
    verdict_repeat_key,
)
from factcheck.desk.models import (
    VERDICT_LABELS,
    Article,
    AuditEvent,
    Case,
    Claim,
    ClaimTag,
    Run,
    Snapshot,
    utcnow,
)
from factcheck.errors import FactcheckError
from factcheck.web import paging
from factcheck.web.auth import Person, checked_form, flash, require, safe_next
from factcheck.web.paging import MAX_DB_ID
from factcheck.web.views import article_segments, quote_candidates, quote_in_context, segments

T = TypeVar("T")




def _digits_at_most(limit: int) -> str:
    """A regular expression for the decimal numbers from 0 to `limit` (leading zeros allowed up to its
    length), built digit by digit: shorter numbers, then each prefix of `limit` followed by a smaller digit."""
    s = str(limit)
    parts = [f"[0-9]{{1,{len(s) - 1}}}"] if len(s) > 1 else []
    for i, d in enumerate(s):
        if d != "0":
            parts.append(f"{s[:i]}[0-{int(d) - 1}][0-9]{{{len(s) - i - 1}}}")
    parts.append(s)
    return "(?:" + "|".join(parts) + ")"


class DbIdConvertor(Convertor[int]):
    """A row id in a path. Only numbers a desk database can hold match, so an id past them (a page asked
    for /claims/9223372036854775808) is simply no page (404), never the driver's overflow error (500)."""

    regex = _digits_at_most(MAX_DB_ID)

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("dbid", DbIdConvertor())

SORTS: dict[str, tuple[str, Callable[[Any], tuple[Any, ...]] | None, tuple[type, ...]]] = {
    name: (label, lead, queue_mod.shape(name)) for name, (label, lead) in triage.SORTS.items()
}
"""Queue orders: label, the rule's leading key over a queue item (`triage.SORTS`), and the types of a page
cursor (the database's sort key of the row at a page's edge, `desk.queue.shape`)."""


STALE_REVIEW = ("Nothing was saved: this claim was reviewed or changed by someone else since you opened it. "
                "The page now shows its current state; read it and review again.")
REPORT_TYPES = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8",
                "json": "application/json", "csv": "text/csv; charset=utf-8",
                "claimreview": "application/ld+json", "pdf": "application/pdf"}
REPORT_EXT = {"html": "html", "md": "md", "json": "json", "csv": "csv", "claimreview": "claimreview.jsonld",
              "pdf": "pdf"}
DOWNLOAD_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox"
"""Downloaded reports are attachments; if one is opened in place anyway, it may style itself but run nothing."""


async def in_desk(request: Request, fn: Callable[[Session], T]) -> T:
    """Run `fn` in one desk transaction on a worker thread (commit on success, roll back on error)."""
    desk = request.app.state.desk

    def work() -> T:
        with desk.session() as s:
            return fn(s)

    return await run_in_threadpool(work)


def render(request: Request, name: str, ctx: dict[str, Any] | None = None, status: int = 200) -> Any:
    return request.app.state.pages.render(request, name, ctx, status=status)


def see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _str(form: Any, key: str) -> str:
    v = form.get(key)
    return v.strip() if isinstance(v, str) else ""


# ------------------------------------------------------------------ sign in / out


async def home(request: Request) -> Response:
    await require(request)
    return see("/queue")


async def login_page(request: Request) -> Response:
    return await render(request, "login.html", {"next": safe_next(request.query_params.get("next")), "name": ""})


async def login_submit(request: Request) -> Response:
    form = await checked_form(request)
    name, password = _str(form, "name"), form.get("password")
    nxt = safe_next(_str(form, "next"))
    if not isinstance(password, str):
        password = ""
    ip = client_ip(request)
    result = await in_desk(request, lambda s: users.sign_in(s, name, password, ip=ip))
    if result.blocked:
        return await render(request, "login.html", {
            "next": nxt, "name": name,
            "error": f"Too many failed sign-ins for this name from your address. Wait "
                     f"{int(users.FAILURE_WINDOW.total_seconds() // 60)} minutes and try again.",
        }, status=429)
    if result.user is None:
        return await render(request, "login.html", {
            "next": nxt, "name": name, "error": "Wrong name or password (or the account is disabled).",
        }, status=401)
    request.session.clear()  # a fresh session (and CSRF token) at every sign-in
    request.session["uid"] = result.user.id
    request.session["user"] = result.user.name
    request.session["stamp"] = users.credential_stamp(result.user)
    request.scope.pop("factcheck.person", None)
    return see(nxt)


async def logout(request: Request) -> Response:
    await checked_form(request)
    person = await require(request)

    def record(s: Session) -> None:
        from factcheck.desk.audit import record as audit_record

        users.end_sessions(s, person.id)  # a copy of this cookie must not outlive the sign-out
        audit_record(s, actor=person.name, action="auth.logout", entity="user", entity_id=person.id,
                     after={"ip": client_ip(request)})

    await in_desk(request, record)
    request.session.clear()
    flash(request, "Signed out.")
    return see("/login")


# ------------------------------------------------------------------ queue


def _filter_args(params: Any) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key in ("status", "source", "article", "q", "tag"):
        v = params.get(key)
        out[key] = v.strip() if isinstance(v, str) and v.strip() else None
    if out["status"] is not None and out["status"] not in triage.STATUSES:
        raise HTTPException(400, f"unknown status {out['status']!r}")
    return out


def _sort_arg(params: Any) -> str:
    sort = params.get("sort") or "urgency"
    return sort if isinstance(sort, str) and sort in SORTS else "urgency"


async def queue_page(request: Request) -> Response:
    me = await require(request)
    filters = _filter_args(request.query_params)
    mine = request.query_params.get("mine") == "1"
    sort = _sort_arg(request.query_params)
    after, before = paging.cursors(request.query_params, SORTS[sort][2])

    def load(s: Session) -> dict[str, Any]:
        now = utcnow()
        try:
            got = triage.queue_page(s, status=filters["status"], source=filters["source"],
                                    article=filters["article"], assignee=me.name if mine else None,
                                    within=_within(s, filters), sort=sort, after=after, before=before, now=now)
        except FactcheckError as exc:
            raise HTTPException(400, str(exc)) from None
        tags = tags_mod.tags_of(s, [it.claim_id for it in got.items])
        rows = []
        for it in got.items:
            d = it.as_dict(now)
            d["claim_id"] = it.claim_id
            d["age"] = _age(d["age_seconds"])
            d["tags"] = tags.get(it.claim_id, [])
            rows.append(d)
        page = paging.Page(rows=rows, first=got.first,
                           after=paging.encode(got.after) if got.after is not None else None,
                           before=paging.encode(got.before) if got.before is not None else None,
                           keep=_keep(filters, sort=sort if sort != "urgency" else None, mine="1" if mine else None))
        return {"rows": rows, "page": page, "total": got.total, "sources": _source_names(s),
                "articles": _article_menu(s),
                "mine_count": counts_mod.total(s, ("mine", me.name),
                                               lambda: triage.queue_count(s, assignee=me.name, now=now)),
                "all_tags": _all_tags(s)}

    data = await in_desk(request, load)
    return await render(request, "queue.html", {
        **data, "filters": filters, "mine": mine, "sort": sort, "sorts": {k: v[0] for k, v in SORTS.items()},
        "statuses": triage.STATUSES, "labels": VERDICT_LABELS, "ratings": _ratings(request),
    })


ARTICLE_MENU = 200
"""Up to this many articles the queue's article filter is a menu; beyond, a box for a URL, title, case or id
(a menu of thousands of articles is no help, and would be most of every queue page's weight)."""


def _article_menu(s: Session) -> list[dict[str, str]] | None:
    def menu() -> list[dict[str, str]] | None:
        rows = list(s.execute(select(Article.id, Article.url, Article.title).order_by(Article.id)
                              .limit(ARTICLE_MENU + 1)))
        if len(rows) > ARTICLE_MENU:
            return None
        return [{"value": a.url or str(a.id), "title": a.title or a.url or f"article {a.id}"} for a in rows]

    return counts_mod.total(s, "article-menu", menu)


def _source_names(s: Session) -> list[str]:
    """The sources' names, for the queue's filter menu (kept a moment, as the totals are: `desk.counts`)."""
    return counts_mod.total(s, "source-names", lambda: [src.name for src in sources_mod.list_sources(s)])


def _all_tags(s: Session) -> list[str]:
    """The tags in use, for the filter menus (kept a moment, as the totals are: `desk.counts`)."""
    return counts_mod.total(s, "tags", lambda: [t for t, _n in tags_mod.all_tags(s)])


def _within(s: Session, filters: dict[str, str | None]) -> Any:
    """The claims a search and/or tag filter allows, for the queue's SQL: a subquery for a tag, the ids a
    search found (None: no such filter given)."""
    ids = set(search_mod.search_claims(s, filters["q"] or "")) if filters.get("q") else None
    if not filters.get("tag"):
        return ids
    tagged = tags_mod.tagged_select(filters["tag"] or "")
    if ids is not None:
        tagged = tagged.where(ClaimTag.claim_id.in_(sorted(ids)) if ids else false())
    return tagged


def _keep(filters: dict[str, str | None], **more: str | None) -> dict[str, str]:
    """The query parameters a page link carries so the next page shows the same list."""
    return {k: v for k, v in {**filters, **more}.items() if v}


def _ratings(request: Request) -> list[dict[str, Any]]:
    return [{"name": r.name, "label": r.label} for r in request.app.state.settings.ratings.values()]


def _matching_ids(s: Session, filters: dict[str, str | None],
                  found: dict[int, list[str]] | None = None) -> set[int] | None:
    """Claim ids a search and/or tag filter allows (None: no such filter given); `found` collects where the
    search matched each claim."""
    ids: set[int] | None = None
    if filters.get("q"):
        hits = search_mod.search_claims(s, filters["q"] or "")
        if found is not None:
            found.update(hits)
        ids = set(hits)
    if filters.get("tag"):
        tagged = tags_mod.claims_with_tags(s, [filters["tag"] or ""])
        ids = tagged if ids is None else ids & tagged
    return ids


async def claims_page(request: Request) -> Response:
    """Every claim on the desk (not only those the queue holds), searched and filtered by tag."""
    await require(request)
    filters = _filter_args(request.query_params)
    after, before = paging.cursors(request.query_params, (int,))

    def load(s: Session) -> dict[str, Any]:
        found: dict[int, list[str]] = {}
        try:
            wanted = _matching_ids(s, filters, found)
        except FactcheckError as exc:
            raise HTTPException(400, str(exc)) from None
        if wanted is None:  # the whole desk: keyset on the claim id in SQL
            total = counts_mod.total(s, "claims", lambda: int(s.execute(
                select(func.count()).select_from(Claim)).scalar_one()))
            page = paging.sql_page(s, select(Claim).options(joinedload(Claim.case), selectinload(Claim.tags)),
                                   Claim.id, descending=False, after=after, before=before)
            claims = page.rows  # the page's claims, read once with their cases and tags
        else:  # a search's or a tag's ids are already in hand: page them, load only the page's claims
            total = len(wanted)
            page = paging.page_of(sorted(wanted), lambda i: (i,), after=after, before=before)
            claims = list_claims(s, ids=page.rows)
        current = queue_mod.current_verdict_rows(s, [c.id for c in claims])
        page.rows = [{"id": c.id, "key": c.key, "case": c.case.key if c.case else None, "text": c.text,
                      "label": current[c.id].label if c.id in current else "unchecked",
                      "rating": current[c.id].rating if c.id in current else None,
                      "tags": [t.tag for t in c.tags], "assignee": triage.live_assignee(c),
                      "matched": found.get(c.id, [])} for c in claims]
        page.keep = _keep(filters)
        return {"rows": page.rows, "page": page, "total": total,
                "all_tags": _all_tags(s)}

    return await render(request, "claims.html", await in_desk(request, load) | {"filters": filters})


def _bulk_refs(form: Any) -> list[tuple[int, int | None]]:
    """The ticked rows: `CLAIM_ID:REVISION` values (the revision each row showed)."""
    out = []
    for v in form.getlist("claim"):
        cid, _, rev = str(v).partition(":")
        if cid.isdigit():
            out.append((int(cid), int(rev) if rev.isdigit() else None))
    return out


async def queue_bulk(request: Request) -> Response:
    """Bulk assign (editors) or bulk verdict (checkers) on the ticked queue rows; all or nothing."""
    form = await checked_form(request)
    action = _str(form, "action")
    me = await require(request, "editor" if action == "assign" else "checker")
    picked = _bulk_refs(form)
    settings = request.app.state.settings

    def refs(s: Session) -> list[tuple[str, int | None]]:
        out = []
        for cid, rev in picked:
            claim = s.get(Claim, cid)
            if claim is None:
                raise UnknownClaim(f"no claim {cid} on this desk")
            out.append((triage.claim_ref(s, claim), rev))
        return out

    def do(s: Session) -> str:
        if not picked:
            raise triage.TriageError("tick at least one claim first")
        if action == "assign":
            done = triage.assign_claims(s, [r for r, _ in refs(s)], to=_str(form, "to"), by=me.name,
                                        hours=int(settings.handoff_hours))
            return f"Assigned {len(done)} claim(s) to {_str(form, 'to')}."
        if action == "verdict":
            rating_name = _str(form, "rating")
            rating = settings.rating(rating_name) if rating_name else None
            done_r = triage.review_many(s, refs(s), label=_str(form, "verdict") or None, note=_str(form, "note"),
                                        by=me.name, rating=rating, take_over=form.get("override") == "1")
            return f"Saved {done_r[0].label if done_r else ''} on {len(done_r)} claim(s) under your name."
        raise triage.TriageError("choose an action: assign or verdict")

    try:
        flash(request, await in_desk(request, do))
    except triage.ReviewConflict:
        flash(request, "Nothing was saved: one of the ticked claims was reviewed or changed by someone else since "
                       "the queue was shown. Look again and repeat.", "error")
    except FactcheckError as exc:
        flash(request, f"Nothing was saved: {exc}", "error")
    return see("/queue")


def _age(secs: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


async def take_next(request: Request) -> Response:
    form = await checked_form(request)
    me = await require(request, "checker")
    filters = _filter_args(form)
    minutes = int(request.app.state.settings.assignment_minutes)

    sort = _sort_arg(form)

    def take(s: Session) -> tuple[int, str, Any] | None:
        got = triage.next_claim(s, by=me.name, minutes=minutes, status=filters["status"], source=filters["source"],
                                article=filters["article"], within=_within(s, filters), sort=sort)
        return None if got is None else (got.claim_id, got.detail["ref"], got.assigned_until)

    try:
        got = await in_desk(request, take)
    except FactcheckError as exc:
        flash(request, str(exc), "error")
        return see("/queue")
    if got is None:
        flash(request, "Nothing left to take: every claim in the queue is assigned or the queue is empty.")
        return see("/queue")
    cid, ref, until = got
    flash(request, f"{ref} is yours until {until:%H:%M} UTC.")
    return see(f"/claims/{cid}")


# ------------------------------------------------------------------ claim detail and review


def _claim_context(s: Session, cid: int, me: Person) -> dict[str, Any]:
    claim = s.get(Claim, cid, options=[joinedload(Claim.case), selectinload(Claim.citations),
                                       selectinload(Claim.tags), selectinload(Claim.evidence_links)])
    if claim is None:
        raise HTTPException(404, f"No claim {cid} on this desk.")
    detail = triage.claim_detail(s, claim)
    current = detail  # the claim with its current verdict (and more), read once
    quoted = current["evidence"]
    wanted = {(e["url"], e["snapshot_sha256"]) for e in detail["evidence_urls"] if e["snapshot_sha256"]}
    snaps: dict[str, int] = {}
    if wanted:  # the newest snapshot id of each (url, sha256) shown, in one query rather than one per URL
        found = s.execute(select(Snapshot.url, Snapshot.sha256, func.max(Snapshot.id))
                          .where(Snapshot.url.in_(sorted({u for u, _sha in wanted})))
                          .group_by(Snapshot.url, Snapshot.sha256))
        snaps = {url: sid for url, sha, sid in found if (url, sha) in wanted}
    history: list[dict[str, Any]] = []
    for first, v, n in fold_repeats(verdict_history(s, claim.id), verdict_repeat_key):
        by = f"reviewer {v.reviewer}" if v.kind == "human" else (
            f"machine run {v.run_id}" if n == 1 else f"machine runs {first.run_id}–{v.run_id}")
        history.append({"id": v.id, "kind": v.kind, "label": v.label, "rating": v.rating, "confidence": v.confidence,
                        "by": by, "rationale": v.rationale, "at": v.created_at, "runs": n,
                        "quotes": [{"quote": q.get("quote"), "url": q.get("url")} for q in v.quotes or []]})
    history.reverse()
    article = s.get(Article, claim.article_id) if claim.article_id else None
    return {
        "claim": {"id": claim.id, "key": claim.key, "ref": detail["ref"], "case": detail["case"],
                  "text": claim.text, "statement": claim.statement, "revision": claim.revision,
                  "checkworthiness": claim.checkworthiness,
                  "article": {"id": article.id, "title": article.title or article.url} if article else None},
        "citations": [{"name": c.name, "phrase": c.phrase, "kind": c.kind, "second_hand": c.second_hand,
                       "via": c.via, "url": c.url} for c in claim.citations],
        "current": current,
        "quotes": [quote_in_context(s, q, claim) for q in quoted],
        "evidence_urls": [e | {"snapshot_id": snaps.get(e["url"])} for e in detail["evidence_urls"]],
        "candidates": quote_candidates(s, claim, quoted) if me.can("checker") else [],
        "history": history,
        "assignee": detail["assignee"], "assigned_until": claim.assigned_until if detail["assignee"] else None,
        "events": triage.audit_events(s, claim_id=claim.id, limit=30),
        "labels": VERDICT_LABELS,
        "tags": [t.tag for t in claim.tags],
        "comments": comments_mod.comments_for(s, [claim.id]).get(claim.id, []),
    }


async def claim_page(request: Request) -> Response:
    me = await require(request)
    cid = request.path_params["cid"]
    ctx = await in_desk(request, lambda s: _claim_context(s, cid, me))
    ctx["jobs"] = await run_in_threadpool(jobs_mod.claim_jobs, request.app.state.desk, cid)  # [] on SQLite
    return await render(request, "claim.html", ctx | {"form": {}, "ratings": _ratings(request)})


async def review_submit(request: Request) -> Response:
    form = await checked_form(request)
    me = await require(request, "checker")
    cid = request.path_params["cid"]
    label, note, rating_name = _str(form, "verdict"), _str(form, "note"), _str(form, "rating")
    quotes = [q for q in form.getlist("quote") if isinstance(q, str) and q]
    rev_s = _str(form, "revision")
    override = form.get("override") == "1"
    if not (rev_s.isascii() and rev_s.isdigit()) or len(rev_s) > 18:
        # a form that does not say which version it reviewed could overwrite a review made meanwhile:
        # refused like a stale one, never resolved to "whatever is current now"
        flash(request, STALE_REVIEW, "error")
        return see(f"/claims/{cid}")
    revision = int(rev_s)

    def do(s: Session) -> tuple[str, str | None]:
        claim = s.get(Claim, cid)
        if claim is None:
            raise HTTPException(404, f"No claim {cid} on this desk.")
        ref = triage.claim_ref(s, claim)
        holder = triage.live_assignee(claim)
        if holder is not None and holder != me.name and not override:
            return ref, (f"{ref} is assigned to {holder} until {claim.assigned_until:%H:%M} UTC. Tick “review "
                         "anyway” to record your verdict regardless.")
        rating = request.app.state.settings.rating(rating_name) if rating_name else None
        res = triage.review(s, ref, label=label or None, note=note, by=me.name, quotes=quotes,
                            expect_revision=revision, rating=rating)
        return ref, None if res else "not saved"

    error: str | None
    try:
        ref, error = await in_desk(request, do)
    except triage.ReviewConflict:
        flash(request, STALE_REVIEW, "error")
        return see(f"/claims/{cid}")
    except FactcheckError as exc:
        error, ref = str(exc), None
    if error is None:
        flash(request, f"{ref}: {rating_name or label} — saved under your name. It has left the queue.")
        return see("/queue")
    ctx = await in_desk(request, lambda s: _claim_context(s, cid, me))
    ctx["form"] = {"verdict": label, "rating": rating_name, "note": note, "quotes": quotes, "override": override,
                   "error": error}
    return await render(request, "claim.html", ctx | {"ratings": _ratings(request)}, status=400)


ClaimAction = Callable[[Session, str, Person, Any, Any], str]


def _claim_action(role: str, fn: ClaimAction) -> Callable[[Request], Awaitable[Response]]:
    """A small POST on the claim page (tags, comment, assign): CSRF, role, one transaction, flash, back."""

    async def handler(request: Request) -> Response:
        form = await checked_form(request)
        me = await require(request, role)
        cid = request.path_params["cid"]

        def do(s: Session) -> str:
            claim = s.get(Claim, cid)
            if claim is None:
                raise HTTPException(404, f"No claim {cid} on this desk.")
            return fn(s, triage.claim_ref(s, claim), me, form, request.app.state.settings)

        try:
            flash(request, await in_desk(request, do))
        except FactcheckError as exc:
            flash(request, str(exc), "error")
        return see(f"/claims/{cid}")

    return handler


def _tags_do(s: Session, ref: str, me: Person, form: Any, settings: Any) -> str:
    remove = _str(form, "remove")
    if remove:
        _c, now = tags_mod.tag_claim(s, ref, [remove], by=me.name, remove=True)
    else:
        # commas separate tags; spaces inside one become hyphens ("Election 2025" -> election-2025)
        _c, now = tags_mod.tag_claim(s, ref, [t for t in _str(form, "tags").split(",") if t.strip()], by=me.name)
    return f"{ref}: tags {', '.join(now) or 'none'}."


def _comment_do(s: Session, ref: str, me: Person, form: Any, settings: Any) -> str:
    comments_mod.add_comment(s, ref, _str(form, "text"), by=me.name)
    return f"{ref}: comment added."


def _assign_do(s: Session, ref: str, me: Person, form: Any, settings: Any) -> str:
    to = _str(form, "to")
    triage.assign_claims(s, [ref], to=to, by=me.name, hours=int(settings.handoff_hours))
    return f"{ref} assigned to {' '.join(to.split())}."


async def release_submit(request: Request) -> Response:
    await checked_form(request)
    me = await require(request, "checker")
    cid = request.path_params["cid"]

    def do(s: Session) -> str:
        claim = s.get(Claim, cid)
        if claim is None:
            raise HTTPException(404, f"No claim {cid} on this desk.")
        ref = triage.claim_ref(s, claim)
        triage.release(s, ref, by=me.name, force=me.can("editor"))
        return ref

    try:
        ref = await in_desk(request, do)
        flash(request, f"Released {ref}; it is back in the queue.")
    except FactcheckError as exc:
        flash(request, str(exc), "error")
    return see(f"/claims/{cid}")


async def statement_submit(request: Request) -> Response:
    """A checker restates the claim (audited, bumps the revision); with the `rejudge` setting on, the claim
    is judged again at once so the page shows what the judge makes of the new wording."""
    form = await checked_form(request)
    me = await require(request, "checker")
    cid = request.path_params["cid"]
    statement = _str(form, "statement")

    def do(s: Session) -> tuple[str, bool]:
        claim = s.get(Claim, cid)
        if claim is None:
            raise HTTPException(404, f"No claim {cid} on this desk.")
        _, changed = authoring.edit_claim(s, str(claim.id), statement=statement, actor=me.name)
        return triage.claim_ref(s, claim), changed

    try:
        ref, changed = await in_desk(request, do)
    except FactcheckError as exc:
        flash(request, str(exc), "error")
        return see(f"/claims/{cid}")
    if not changed:
        flash(request, f"{ref}: the restatement is unchanged.")
        return see(f"/claims/{cid}")
    settings = request.app.state.settings
    if settings.rejudge:
        result = await run_in_threadpool(lambda: verify_mod.verify(request.app.state.desk, settings, actor=me.name,
                                                                   claim_ids=[cid]))
        flash(request, f"{ref}: restatement saved and judged again: {_label_of(result)}.")
    else:
        flash(request, f"{ref}: restatement saved.")
    return see(f"/claims/{cid}")


async def evidence_submit(request: Request) -> Response:
    """A checker ties a page to the claim: a URL (fetched through the fetcher's policies) or an uploaded
    saved page (kept in the desk folder's uploads/, capped like every page); the claim is judged again.
    Never a path on the server: a file reaches the desk only as an upload."""
    form = await checked_form(request)
    me = await require(request, "checker")
    cid = request.path_params["cid"]
    settings = request.app.state.settings
    url, source = _str(form, "url"), _str(form, "source") or None
    upload = form.get("file")
    has_file = isinstance(upload, UploadFile) and bool(upload.filename)
    if bool(url) == has_file:
        flash(request, "Give either a URL or a saved page to upload, not both.", "error")
        return see(f"/claims/{cid}#add-evidence")
    ref = url
    if has_file:
        assert isinstance(upload, UploadFile)
        body = await upload.read(int(settings.max_bytes) + 1)
        if len(body) > int(settings.max_bytes):
            flash(request, f"The page is larger than the desk's limit of {int(settings.max_bytes):,} bytes.", "error")
            return see(f"/claims/{cid}#add-evidence")
        ref = str(await run_in_threadpool(_save_upload, settings.desk_dir, upload.filename or "page.html", body))
    if await in_desk(request, lambda s: s.get(Claim, cid) is None):
        raise HTTPException(404, f"No claim {cid} on this desk.")
    desk = request.app.state.desk
    try:
        if await run_in_threadpool(jobs_mod.use_workers, desk, settings):  # a PostgreSQL desk with workers
            queued = await run_in_threadpool(lambda: attach_mod.add_evidence_queued(
                desk, settings, str(cid), ref, actor=me.name, source=source))
            flash(request, f"{queued.claim_key}: page tied; fetching and judging it again is queued "
                           f"(job {queued.job.job or 'already queued'}).")
            return see(f"/claims/{cid}#jobs")
        res = await run_in_threadpool(lambda: attach_mod.add_evidence(
            desk, settings, str(cid), ref, actor=me.name, source=source))
    except FactcheckError as exc:
        flash(request, str(exc), "error")
        return see(f"/claims/{cid}#add-evidence")
    flash(request, f"{res.claim['id']}: page tied and captured; judged again in run {res.run_id}: "
                   f"{res.claim['verdict'] or 'no verdict'}.")
    return see(f"/claims/{cid}")


def _save_upload(desk_dir: Path, filename: str, body: bytes) -> Path:
    """The uploaded page under uploads/, named by its content hash and a tame version of its name."""
    folder = desk_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    tame = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename).name).strip("._")[:80] or "page.html"
    path = folder / f"{hashlib.sha256(body).hexdigest()[:16]}-{tame}"
    if not path.exists():
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(body)
        tmp.replace(path)
    return path


def _label_of(result: verify_mod.RunResult) -> str:
    return next((label for label, n in result.counts.items() if n), "no verdict")


# ------------------------------------------------------------------ articles and captures


async def articles_page(request: Request) -> Response:
    await require(request)
    after, before = paging.cursors(request.query_params, (int,))

    def load(s: Session) -> dict[str, Any]:
        page = paging.sql_page(s, select(Article).options(defer(Article.text)), Article.id, descending=False,
                               after=after, before=before)  # not the articles' whole text: only whether they have it
        ids = [a.id for a in page.rows]
        with_text = set(s.execute(select(Article.id).where(Article.id.in_(ids), Article.text.is_not(None),
                                                           Article.text != "")).scalars()) if ids else set()
        counts = dict(s.execute(select(Claim.article_id, func.count()).where(Claim.article_id.in_(ids))
                                .group_by(Claim.article_id)).all()) if ids else {}
        case_ids = {a.case_id for a in page.rows if a.case_id}
        cases = {c.id: c.key for c in s.execute(select(Case).where(Case.id.in_(case_ids))).scalars()} if case_ids else {}
        page.rows = [{"id": a.id, "title": a.title or a.url or a.file or f"article {a.id}", "url": a.url,
                      "outlet": a.outlet, "published": a.published, "language": a.language,
                      "case": cases.get(a.case_id) if a.case_id else None, "claims": counts.get(a.id, 0),
                      "has_text": a.id in with_text} for a in page.rows]
        total = counts_mod.total(s, "articles", lambda: s.execute(select(func.count()).select_from(Article)).scalar_one())
        return {"articles": page.rows, "page": page, "total": total}

    return await render(request, "articles.html", await in_desk(request, load))


async def article_page(request: Request) -> Response:
    await require(request)
    aid = request.path_params["aid"]

    def load(s: Session) -> dict[str, Any]:
        a = s.get(Article, aid)
        if a is None:
            raise HTTPException(404, f"No article {aid} on this desk.")
        claims = list(s.execute(select(Claim).where(Claim.article_id == a.id).order_by(Claim.id)).scalars())
        current = triage.current_verdicts(s, [c.id for c in claims])
        labelled = [(c, current[c.id].label if c.id in current else "unchecked") for c in claims]
        segs = article_segments(a.text, labelled) if a.text else []
        return {"article": {"id": a.id, "title": a.title or a.url or f"article {a.id}", "url": a.url,
                            "outlet": a.outlet, "published": a.published, "language": a.language},
                "segments": segs, "placed": sum(1 for sg in segs if sg.claim),
                "claims": [{"id": c.id, "key": c.key, "text": c.text, "label": label,
                            "placed": isinstance(c.start, int) and bool(a.text)} for c, label in labelled]}

    return await render(request, "article.html", await in_desk(request, load))


async def capture_page(request: Request) -> Response:
    await require(request)
    sid = request.path_params["sid"]
    start_s, end_s = request.query_params.get("start", ""), request.query_params.get("end", "")

    def load(s: Session) -> dict[str, Any]:
        snap = s.get(Snapshot, sid)
        if snap is None:
            raise HTTPException(404, f"No capture {sid} on this desk.")
        text = snap.text or ""
        mark = None
        if start_s.isdigit() and end_s.isdigit() and 0 <= int(start_s) < int(end_s) <= len(text):
            mark = (int(start_s), int(end_s))
        versions = [{"id": v.id, "sha256": v.sha256, "fetched_at": v.fetched_at, "status": v.status}
                    for v in s.execute(select(Snapshot).where(Snapshot.url == snap.url)
                                       .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc())).scalars()]
        return {"snap": {"id": snap.id, "url": snap.url, "final_url": snap.final_url, "status": snap.status,
                         "fetched_at": snap.fetched_at, "sha256": snap.sha256, "origin": snap.origin,
                         "content_type": snap.content_type, "title": snap.title, "author": snap.author,
                         "published": snap.published, "language": snap.language, "chars": len(text),
                         "source": snap.source.name if snap.source else None},
                "segments": segments(text, quote=mark), "mark": mark, "versions": versions}

    return await render(request, "capture.html", await in_desk(request, load))


# ------------------------------------------------------------------ runs and reports


async def runs_page(request: Request) -> Response:
    await require(request)
    after, before = paging.cursors(request.query_params, (int,))

    def load(s: Session) -> dict[str, Any]:
        now = utcnow()
        page = paging.sql_page(s, select(Run), Run.id, descending=True, after=after, before=before)
        page.rows = [{"id": r.id, "started_at": r.started_at, "finished_at": r.finished_at, "version": r.version,
                      "actor": r.actor, "counts": r.counts or {}, "state": runs_mod.run_state(r, now)}
                     for r in page.rows]
        total = counts_mod.total(s, "runs", lambda: s.execute(select(func.count()).select_from(Run)).scalar_one())
        return {"runs": page.rows, "page": page, "total": total}

    return await render(request, "runs.html", await in_desk(request, load))


async def reports_page(request: Request) -> Response:
    await require(request)
    settings = request.app.state.settings

    def load(s: Session) -> dict[str, Any]:
        cases = [c.key for c in s.execute(select(Case).order_by(Case.key)).scalars()]
        try:
            rep = report_mod.build_report(s, settings)
            summary: dict[str, int] | None = rep.summary
            audit = {"ok": rep.audit_ok, "events": rep.audit_events, "problem": rep.audit_problem}
        except report_mod.EmptyReport:
            summary, audit = None, None
        return {"cases": cases, "summary": summary, "audit": audit}

    return await render(request, "reports.html", await in_desk(request, load) | {"formats": list(REPORT_TYPES)})


async def report_download(request: Request) -> Response:
    await require(request)
    fmt = request.query_params.get("format", "html")
    case = request.query_params.get("case") or None
    include_machine = request.query_params.get("include_machine") == "1"  # claimreview: reviewed verdicts only
    if fmt not in REPORT_TYPES:
        raise HTTPException(400, f"unknown report format {fmt!r}; use one of {', '.join(REPORT_TYPES)}")
    settings = request.app.state.settings

    def build(s: Session) -> bytes:
        rep = report_mod.build_report(s, settings, case=case)
        if fmt == "pdf":  # the HTML report printed by Chromium (the `chromium` setting, else found on PATH)
            return report_mod.html_to_pdf(report_mod.render(rep, "html"), chromium=settings.chromium or None)
        return report_mod.encode(report_mod.render(rep, fmt, include_machine=include_machine), fmt)

    try:
        data = await in_desk(request, build)
    except report_mod.ReportError as exc:
        raise HTTPException(400, str(exc)) from None
    name = "factcheck-report" + (f"-{_slug(case)}" if case else "") + "." + REPORT_EXT[fmt]
    return Response(data, media_type=REPORT_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Content-Security-Policy": DOWNLOAD_CSP})


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)[:60].strip("-") or "case"


# ------------------------------------------------------------------ sources


async def sources_page(request: Request) -> Response:
    await require(request)

    def load(s: Session) -> list[dict[str, Any]]:
        return [sources_mod.source_dict(x) for x in sources_mod.list_sources(s)]

    return await render(request, "sources.html", {"sources": await in_desk(request, load)})


async def sources_submit(request: Request) -> Response:
    form = await checked_form(request)
    me = await require(request, "editor")
    name = _str(form, "name")
    aliases = [a.strip() for a in _str(form, "aliases").split(",") if a.strip()]
    domains = [d.strip() for d in _str(form, "domains").split(",") if d.strip()]
    if not name:
        flash(request, "A source needs a name.", "error")
        return see("/sources")

    def do(s: Session) -> str:
        _src, what = sources_mod.merge_source(s, name=name, aliases=aliases, domains=domains, actor=me.name)
        return what

    try:
        what = await in_desk(request, do)
    except FactcheckError as exc:  # too long (settings.FIELD_LIMITS) or refused by the database
        flash(request, f"Nothing was saved: {exc}", "error")
        return see("/sources")
    flash(request, f"{name}: {what}.")
    return see("/sources")


# ------------------------------------------------------------------ users


async def users_page(request: Request) -> Response:
    await require(request, "editor")

    def load(s: Session) -> list[dict[str, Any]]:
        return [users.user_dict(u) for u in users.list_users(s)]

    return await render(request, "users.html", {"users": await in_desk(request, load), "roles": users.ROLES})


async def users_submit(request: Request) -> Response:
    form = await checked_form(request)
    me = await require(request, "editor")
    name, role = _str(form, "name"), _str(form, "role")
    password = form.get("password")

    def do(s: Session) -> None:
        users.add_user(s, name, role=role, password=password if isinstance(password, str) else "", actor=me.name)

    try:
        await in_desk(request, do)
        flash(request, f"Added {users.normalise_name(name)} ({role}).")
    except FactcheckError as exc:
        flash(request, str(exc), "error")
    return see("/users")


async def user_set(request: Request) -> Response:
    form = await checked_form(request)
    me = await require(request, "editor")
    name = users.normalise_name(request.path_params["name"])
    role, state = _str(form, "role"), _str(form, "state")

    def do(s: Session) -> None:
        if name == me.name and ((role and role != me.role) or state == "disabled"):
            raise users.UserError("you cannot lower your own role or disable yourself; ask another editor")
        if role:
            users.set_role(s, name, role, actor=me.name)
        if state in ("disabled", "enabled"):
            users.set_disabled(s, name, state == "disabled", actor=me.name)

    try:
        await in_desk(request, do)
        flash(request, f"Updated {name}.")
    except FactcheckError as exc:
        flash(request, str(exc), "error")
    return see("/users")


# ------------------------------------------------------------------ audit


async def audit_page(request: Request) -> Response:
    await require(request)
    after, before = paging.cursors(request.query_params, (int,))

    def load(s: Session) -> dict[str, Any]:
        page = paging.sql_page(s, select(AuditEvent), AuditEvent.id, descending=True, after=after, before=before)
        page.rows = triage.event_dicts(s, page.rows)
        total = counts_mod.total(s, "audit", lambda: s.execute(select(func.count()).select_from(AuditEvent))
                                 .scalar_one())
        return {"events": page.rows, "page": page, "total": total}

    return await render(request, "audit.html", await in_desk(request, load))


ROUTES = [
    Route("/", home),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/queue", queue_page),
    Route("/queue/next", take_next, methods=["POST"]),
    Route("/queue/bulk", queue_bulk, methods=["POST"]),
    Route("/claims", claims_page),
    Route("/claims/{cid:dbid}", claim_page),
    Route("/claims/{cid:dbid}/tags", _claim_action("checker", _tags_do), methods=["POST"]),
    Route("/claims/{cid:dbid}/comments", _claim_action("checker", _comment_do), methods=["POST"]),
    Route("/claims/{cid:dbid}/assign", _claim_action("editor", _assign_do), methods=["POST"]),
    Route("/claims/{cid:dbid}/review", review_submit, methods=["POST"]),
    Route("/claims/{cid:dbid}/release", release_submit, methods=["POST"]),
    Route("/claims/{cid:dbid}/statement", statement_submit, methods=["POST"]),
    Route("/claims/{cid:dbid}/evidence", evidence_submit, methods=["POST"]),
    Route("/articles", articles_page),
    Route("/articles/{aid:dbid}", article_page),
    Route("/captures/{sid:dbid}", capture_page),
    Route("/runs", runs_page),
    Route("/reports", reports_page),
    Route("/reports/download", report_download),
    Route("/sources", sources_page, methods=["GET"]),
    Route("/sources", sources_submit, methods=["POST"]),
    Route("/users", users_page, methods=["GET"]),
    Route("/users", users_submit, methods=["POST"]),
    Route("/users/{name}", user_set, methods=["POST"]),
    Route("/audit", audit_page),
]
