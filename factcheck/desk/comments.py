"""Comment threads on claims: the desk's discussion, kept beside the claim, audited, never edited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from factcheck.desk import audit
from factcheck.desk.claims import find_claim
from factcheck.desk.models import ClaimComment
from factcheck.errors import FactcheckError

MAX_COMMENT = 4000
"""Characters per comment: a thread is for discussion; evidence belongs in `evidence add`."""


class CommentError(FactcheckError):
    pass


@dataclass
class Comment:
    id: int
    claim_id: int
    author: str
    text: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "by": self.author, "text": self.text, "at": self.at.isoformat()}


def _plain(c: ClaimComment) -> Comment:
    return Comment(c.id, c.claim_id, c.author, c.text, c.created_at)


def add_comment(session: Session, ref: str, text: str, *, by: str | None) -> Comment:
    """Append one comment to the claim's thread, in the same transaction as its audit event."""
    who = (by or "").strip()
    if not who:
        raise CommentError("who is commenting? pass --by NAME or set FACTCHECK_USER")
    body = (text or "").strip()
    if not body:
        raise CommentError("a comment cannot be empty")
    if len(body) > MAX_COMMENT:
        raise CommentError(f"a comment holds at most {MAX_COMMENT} characters (this one has {len(body)})")
    claim = find_claim(session, ref)
    row = ClaimComment(claim_id=claim.id, author=who, text=body)
    session.add(row)
    session.flush()
    audit.record(session, actor=who, action="comment.add", entity="comment", entity_id=row.id, claim_id=claim.id,
                 after={"text": body})
    return _plain(row)


def comments_for(session: Session, claim_ids: list[int]) -> dict[int, list[Comment]]:
    """Each claim's thread, oldest first."""
    out: dict[int, list[Comment]] = {}
    for i in range(0, len(claim_ids), 500):
        q = select(ClaimComment).where(ClaimComment.claim_id.in_(claim_ids[i : i + 500])).order_by(ClaimComment.id)
        for c in session.execute(q).scalars():
            out.setdefault(c.claim_id, []).append(_plain(c))
    return out
