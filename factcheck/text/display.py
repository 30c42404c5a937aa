"""Small text helpers shared by the command line, the verdict rationale and the reports.

`for_terminal` is the one way stored or fetched text reaches a terminal: a claim, a page title or a source
name may hold rich markup (`[red]`, `[/]`), terminal escape sequences (ESC) or bidi overrides, and none of
them may act on the screen or be swallowed. The stored text is never changed; only what is printed.
"""

from __future__ import annotations

import re

from rich.markup import escape as _escape_markup

__all__ = ["BIDI_CONTROLS", "for_terminal", "shorten", "visible"]

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Embedding, override and isolate characters: they reorder how the text around them is shown."""


def _shown(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0), *map(ord, BIDI_CONTROLS)]
_ONE_LINE = {c: _shown(c) for c in _CONTROLS}
_MULTI_LINE = {c: v for c, v in _ONE_LINE.items() if c not in (0x09, 0x0A)}
_SURROGATE = re.compile("[\ud800-\udfff]")


def shorten(text: str | None, limit: int = 220) -> str:
    """Whitespace collapsed, cut to `limit` characters with an ellipsis (for one-line displays)."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def visible(text: str | None, *, newlines: bool = False) -> str:
    """`text` with control characters (C0, DEL, C1), bidi controls and lone surrogates written as escapes
    (`\\x1b`, `\\u202e`), so they show instead of acting. With `newlines`, line breaks and tabs stay
    (a CR only as part of CRLF)."""
    text = text or ""
    text = text.replace("\r\n", "\n").translate(_MULTI_LINE) if newlines else text.translate(_ONE_LINE)
    return _SURROGATE.sub(lambda m: _shown(ord(m.group())), text)


def for_terminal(text: object, limit: int | None = None, *, newlines: bool = False) -> str:
    """Stored or fetched text made safe to print with rich: shortened to one line of `limit` characters
    when a limit is given, control and bidi characters made visible, markup escaped (a `[red]` in a claim
    prints as `[red]`). Without `newlines` the result is always one line. A backslash at the very end is
    shown as `\x5c`: left bare, it would escape whatever markup the caller puts after the text."""
    s = "" if text is None else str(text)
    if limit is not None:
        s = shorten(s, limit)
    s = visible(s, newlines=newlines and limit is None)
    if s.endswith("\\"):
        s = s[:-1] + "\\x5c"
    return _escape_markup(s)
