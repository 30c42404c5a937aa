"""Linking a cited name to the registry: the indexed Registry answers as the entry-by-entry scan it replaced."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import pytest
from rapidfuzz import fuzz

from factcheck.claimfinding.attribution import Registry, SourceRef, _norm, clean_name, link_source


def scan(name: str, registry: Sequence[SourceRef]) -> tuple[str, bool]:
    """The reference: every entry in order, the first exact name, alias, domain or acronym wins, else the
    closest spelling (ratio >= 88, the earliest among equals)."""
    cleaned = clean_name(name)
    if not cleaned:
        return name.strip(), False
    n = _norm(cleaned)
    forms = {n, n.replace(" ", "")}
    if len(n) > 4 and n.endswith("s") and not n.endswith("ss"):
        forms |= {n[:-1], n[:-1].replace(" ", "")}
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", cleaned.casefold()).split("/")[0]
    best: tuple[float, str] | None = None
    for ref in registry:
        keys = [_norm(k) for k in [ref.name, *ref.aliases] if k.strip()]
        keyset = set(keys) | {k.replace(" ", "") for k in keys}
        if forms & keyset:
            return ref.name, True
        for d in ref.domains:
            d = d.casefold().removeprefix("www.")
            if host == d or host.endswith("." + d) or n == d.split(".")[0]:
                return ref.name, True
        words = ref.name.split()
        if len(words) > 1 and cleaned.isupper() and cleaned == "".join(w[0] for w in words).upper():
            return ref.name, True
        nz = n.replace(" ", "")
        if len(nz) <= 4:
            continue
        for k in keyset:
            if len(k) <= 4:
                continue
            score = fuzz.ratio(nz, k.replace(" ", ""))
            if score >= 88 and (best is None or score > best[0]):
                best = (score, ref.name)
    return (best[1], True) if best else (cleaned, False)


WORDS = ["Business", "Insider", "Bloomberg", "Reuters", "Signal", "Fire", "Daily", "Times", "Post", "News",
         "Capital", "Research", "Kestrel", "Tribune", "Wire", "Herald", "Group", "Data"]


def _registry(rng: random.Random, n: int) -> list[SourceRef]:
    refs = []
    for i in range(n):
        words = rng.sample(WORDS, rng.randint(1, 3))
        name = " ".join(words) + (f" {i}" if rng.random() < 0.5 else "")
        aliases = ["".join(w[0] for w in words)] if rng.random() < 0.3 else []
        if rng.random() < 0.3:
            aliases.append("-".join(words))
        domains = [f"{''.join(words).lower()}{i % 7}.example"] if rng.random() < 0.5 else []
        refs.append(SourceRef(name, aliases, domains))
    return refs


def _names(rng: random.Random, refs: Sequence[SourceRef], k: int) -> list[str]:
    out = []
    for _ in range(k):
        ref = rng.choice(refs)
        pick = rng.randrange(8)
        if pick == 0:
            out.append(ref.name.upper())
        elif pick == 1:
            out.append(ref.name + "s")  # a German genitive
        elif pick == 2 and len(ref.name) > 6:
            cut = rng.randrange(1, len(ref.name) - 1)
            out.append(ref.name[:cut] + ref.name[cut + 1 :])  # a letter dropped: a close spelling
        elif pick == 3 and ref.domains:
            out.append("https://www." + ref.domains[0] + "/a/b")
        elif pick == 4:
            out.append("".join(w[0] for w in ref.name.split()).upper())  # an acronym
        elif pick == 5:
            out.append(" ".join(rng.sample(WORDS, 2)))  # perhaps nobody's
        elif pick == 6 and ref.aliases:
            out.append("the " + ref.aliases[-1].lower())
        else:
            out.append(ref.name.replace(" ", "-"))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_registry_answers_as_the_scan(seed: int) -> None:
    rng = random.Random(seed)
    refs = _registry(rng, rng.choice([5, 40, 300]))
    reg = Registry(refs)
    names = _names(rng, refs, 150)
    got = [reg.link(n) for n in names]
    assert got == [scan(n, refs) for n in names]
    assert sum(known for _n, known in got) > 30  # the names mostly link: the comparison is not all misses
    assert link_source(names[0], refs) == got[0]  # a plain sequence links the same


def test_entries_added_later_are_found_in_registry_order() -> None:
    reg = Registry([SourceRef("Kestrel Research")])
    assert reg.link("Kestrel") == ("Kestrel", False)
    reg.append(SourceRef("Kestrel", aliases=["KR"]))
    reg.append(SourceRef("Kestrel Data", domains=["kestrel.example"]))
    assert reg.link("Kestrel") == ("Kestrel", True)
    assert reg.link("https://news.kestrel.example/x") == ("Kestrel Data", True)
    assert reg.link("kestrel research") == ("Kestrel Research", True)  # the earlier entry keeps its name
    assert [r.name for r in reg] == ["Kestrel Research", "Kestrel", "Kestrel Data"] and len(reg) == 3


def test_domain_names_short_keys_and_equal_spellings() -> None:
    reg = Registry([SourceRef("K Data", domains=["kestrel.example"]), SourceRef("Post"),
                    SourceRef("Reutersa"), SourceRef("Reutersb")])
    assert reg.link("Kestrel") == ("K Data", True)  # the first label of a source's domain
    assert reg.link("Postx") == ("Postx", False)  # keys of four letters or fewer are never spelling variants
    assert reg.link("Reuters") == ("Reutersa", True)  # equally close: the earlier entry
