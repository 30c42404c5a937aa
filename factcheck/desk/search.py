"""Full-text search over claims and their evidence, through the database's own text indexes.

Claim text and restatement: the `claim_fts` FTS5 table (SQLite) or the `claim_tsv_idx` GIN index
(PostgreSQL), both from migration 0005. Evidence: the passage index of migration 0002, limited to passages of
captures tied to a claim. Every word of the query must occur (AND), as people expect of a search box;
matching ignores case (and, on SQLite, accents).
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from factcheck.errors import FactcheckError

MAX_QUERY = 200
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
CLAIM_TSV = "to_tsvector('simple', coalesce(c.text, '') || ' ' || coalesce(c.statement, ''))"


class SearchError(FactcheckError):
    pass


def search_words(query: str) -> list[str]:
    """The words of a search (what both indexes tokenise on); a query without any is refused."""
    if len(query or "") > MAX_QUERY:
        raise SearchError(f"a search holds at most {MAX_QUERY} characters")
    words = list(dict.fromkeys(w.casefold() for w in _WORD.findall(query or "")))
    if not words:
        raise SearchError(f"search {query!r} has no words to look for")
    return words


def search_claims(session: Session, query: str) -> dict[int, list[str]]:
    """Claim id -> where every word of `query` was found: "claim" (text or restatement), "evidence" (one
    passage of a capture tied to the claim), or both."""
    words = search_words(query)
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        q = " ".join('"' + w.replace('"', "") + '"' for w in words)  # FTS5: quoted terms, space = AND
        in_claims = "SELECT rowid FROM claim_fts WHERE claim_fts MATCH :q"
        in_evidence = (
            "SELECT DISTINCT ce.claim_id FROM passage_fts f JOIN passage p ON p.id = f.rowid "
            "JOIN snapshot s ON s.id = p.snapshot_id JOIN claim_evidence ce ON ce.evidence_url_id = s.evidence_url_id "
            "WHERE passage_fts MATCH :q"
        )
    elif dialect == "postgresql":
        q = " ".join(words)  # plainto_tsquery: the same parser as the index, every word required
        in_claims = f"SELECT c.id FROM claim c WHERE {CLAIM_TSV} @@ plainto_tsquery('simple', :q)"
        in_evidence = (
            "SELECT DISTINCT ce.claim_id FROM passage p JOIN snapshot s ON s.id = p.snapshot_id "
            "JOIN claim_evidence ce ON ce.evidence_url_id = s.evidence_url_id "
            "WHERE to_tsvector('simple', p.text) @@ plainto_tsquery('simple', :q)"
        )
    else:  # pragma: no cover - other databases are not supported desks
        raise SearchError(f"full-text search is not available on {dialect}")
    found: dict[int, list[str]] = {}
    for where, sql in (("claim", in_claims), ("evidence", in_evidence)):
        for (cid,) in session.execute(text(sql), {"q": q}):
            found.setdefault(int(cid), []).append(where)
    return found
