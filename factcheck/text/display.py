"""Small text helpers shared by the command line, the verdict rationale and the reports."""

from __future__ import annotations


def shorten(text: str | None, limit: int = 220) -> str:
    """Whitespace collapsed, cut to `limit` characters with an ellipsis (for one-line displays)."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
