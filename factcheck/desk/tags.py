"""Tags: a desk's own labels on claims ("election", "health"), for finding and filtering work.

Tags are normalised (lower case, spaces to hyphens) so "Election 2025" and "election-2025" are one tag.
Every change is one audit event per claim with the tags before and after.
"""

from __future__ import annotations

import re

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from factcheck.desk import audit
from factcheck.desk.claims import find_claim
from factcheck.desk.models import Claim, ClaimTag
from factcheck.errors import FactcheckError

MAX_TAG = 64
_TAG = re.compile(r"^[^\W_][\w.-]*$", re.UNICODE)


class TagError(FactcheckError):
    pass


def normalise_tag(raw: str) -> str:
    """One spelling per tag: trimmed, lower case, inner spaces as hyphens; letters, digits, `-`, `_`, `.`."""
    tag = "-".join((raw or "").split()).casefold()
    if not tag:
        raise TagError("a tag cannot be empty")
    if len(tag) > MAX_TAG:
        raise TagError(f"tag {tag[:20]!r}… is longer than {MAX_TAG} characters")
    if not _TAG.match(tag):
        raise TagError(f"tag {raw!r} may hold only letters, digits, '-', '_' and '.', and must start with a "
                       "letter or digit")
    return tag


def tag_claim(session: Session, ref: str, tags: list[str] | tuple[str, ...], *, by: str | None,
              remove: bool = False) -> tuple[Claim, list[str]]:
    """Add (or with `remove`, take off) tags; returns the claim and its tags after. Audited when anything changed."""
    by = (by or "").strip()
    if not by:
        raise TagError("who is tagging? pass --by NAME or set FACTCHECK_USER")
    if not tags:
        raise TagError("name at least one tag")
    wanted = list(dict.fromkeys(normalise_tag(t) for t in tags))
    claim = find_claim(session, ref)
    rows = list(session.execute(select(ClaimTag).where(ClaimTag.claim_id == claim.id)).scalars())
    before = sorted(r.tag for r in rows)
    if remove:
        missing = [t for t in wanted if t not in before]
        if missing:
            raise TagError(f"claim {ref} has no tag {', '.join(missing)} (its tags: {', '.join(before) or 'none'})")
        for r in rows:
            if r.tag in wanted:
                session.delete(r)
    else:
        for t in wanted:
            if t not in before:
                session.add(ClaimTag(claim_id=claim.id, tag=t, created_by=by))
    session.flush()
    after = sorted(set(before) - set(wanted)) if remove else sorted(set(before) | set(wanted))
    if after != before:
        audit.record(session, actor=by, action="claim.untag" if remove else "claim.tag", entity="claim",
                     entity_id=claim.id, claim_id=claim.id, before={"tags": before}, after={"tags": after})
    session.expire(claim, ["tags"])
    return claim, after


def all_tags(session: Session) -> list[tuple[str, int]]:
    """Every tag on the desk with how many claims carry it, most used first (counted by the database)."""
    rows = session.execute(select(ClaimTag.tag, func.count()).group_by(ClaimTag.tag))
    return sorted(((t, int(n)) for t, n in rows), key=lambda kv: (-kv[1], kv[0]))


def tags_of(session: Session, claim_ids: list[int]) -> dict[int, list[str]]:
    """The tags of these claims (a page's), each claim's in name order, in one query per 500 claims."""
    out: dict[int, list[str]] = {}
    for i in range(0, len(claim_ids), 500):
        for cid, tag in session.execute(select(ClaimTag.claim_id, ClaimTag.tag)
                                        .where(ClaimTag.claim_id.in_(claim_ids[i : i + 500])).order_by(ClaimTag.tag)):
            out.setdefault(cid, []).append(tag)
    return out


def tagged_select(tag: str) -> Select[tuple[int]]:
    """The ids of the claims that carry `tag`, as a subquery (for filters the database applies)."""
    return select(ClaimTag.claim_id).where(ClaimTag.tag == normalise_tag(tag))


def claims_with_tags(session: Session, tags: list[str] | tuple[str, ...]) -> set[int]:
    """Ids of the claims that carry every one of `tags`."""
    found: set[int] | None = None
    for t in tags:
        ids = set(session.execute(select(ClaimTag.claim_id).where(ClaimTag.tag == normalise_tag(t))).scalars())
        found = ids if found is None else found & ids
    return found or set()
