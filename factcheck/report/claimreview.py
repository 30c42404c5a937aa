"""schema.org ClaimReview JSON-LD: one review per claim a reviewer decided (machine verdicts on request).

A reviewer who chose a rating of the desk's own scale (setting rating_scale, e.g. "false", "misleading",
"needs context") publishes that rating: alternateName is its name, ratingValue its value, worstRating and
bestRating the lowest and highest values on the scale. Any other verdict uses the three-step scale
(documented contract, 1 = worst, 3 = best)::

    contested   -> ratingValue 1  alternateName "Contested"   (evidence disagrees with the claim)
    unverified  -> ratingValue 2  alternateName "Unverified"  (nothing found that settles it)
    verified    -> ratingValue 3  alternateName "Verified"    (the cited source states it)
    worstRating 1, bestRating 3
"""

from __future__ import annotations

import json
from typing import Any

from factcheck.report.model import Report, ReportClaim

# ClaimReview: label -> (ratingValue, alternateName). See the module docstring.
RATING_SCALE: dict[str, tuple[int, str]] = {
    "contested": (1, "Contested"),
    "unverified": (2, "Unverified"),
    "verified": (3, "Verified"),
}
WORST_RATING, BEST_RATING = 1, 3


def claim_review(report: Report, c: ReportClaim, *, base_url: str | None = None) -> dict[str, Any] | None:
    """One schema.org ClaimReview for a claim that has a verdict (None when it has none)."""
    v = c.verdict
    if v is None:
        return None
    value, name = RATING_SCALE[v.label]
    worst, best = WORST_RATING, BEST_RATING
    desk_rating = report.rating_of(v)
    if desk_rating is not None:
        values = [r.value for r in report.ratings.values()]
        value, name, worst, best = desk_rating.value, desk_rating.alternate_name, min(values), max(values)
    base = (base_url or report.organisation_url or "").split("#", 1)[0]
    org: dict[str, Any] = {"@type": "Organization", "name": report.organisation or "factcheck desk"}
    if report.organisation_url:
        org["url"] = report.organisation_url
    rating: dict[str, Any] = {
        "@type": "Rating", "ratingValue": value, "bestRating": best, "worstRating": worst,
        "alternateName": name,
    }
    explanation = v.note or v.rationale
    if explanation:
        rating["ratingExplanation"] = explanation
    item: dict[str, Any] = {"@type": "Claim"}
    a = c.article
    if a is not None:
        if a.outlet:
            item["author"] = {"@type": "Organization", "name": a.outlet}
        if a.published:
            item["datePublished"] = a.published
        if a.url or a.title:
            appearance: dict[str, Any] = {"@type": "CreativeWork"}
            if a.url:
                appearance["url"] = a.url
            if a.title:
                appearance["headline"] = a.title
            if a.published:
                appearance["datePublished"] = a.published
            if a.outlet:
                appearance["publisher"] = {"@type": "Organization", "name": a.outlet}
            item["appearance"] = appearance
    lang = c.language or (a.language if a else None)
    review: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": f"{base}#{c.anchor}",
        "claimReviewed": c.text,
        "itemReviewed": item,
        "author": org,
        "reviewRating": rating,
        "datePublished": v.at.date().isoformat(),
    }
    if lang:
        review["inLanguage"] = lang
        item["inLanguage"] = lang
    return review


def render_claimreview(report: Report, *, base_url: str | None = None, include_machine: bool = False) -> str:
    """A JSON array of ClaimReview objects, one per claim whose current verdict is a reviewer's (what a desk
    publishes is what a person has signed off); with include_machine, one per claim with any verdict."""
    claims = report.claims
    if not include_machine:
        claims = [c for c in claims if c.verdict is not None and c.verdict.kind == "human"]
        left = sum(1 for c in report.claims if c.verdict is not None and c.verdict.kind != "human")
        if left:
            report.warnings.append(f"{left} claim(s) with only a machine verdict left out (a reviewer has not "
                                   "signed them off; --include-machine publishes them too)")
    reviews = [r for c in claims if (r := claim_review(report, c, base_url=base_url)) is not None]
    if not (base_url or report.organisation_url):
        report.warnings.append(
            "organisation_url is not set, so each ClaimReview `url` is only a fragment (#claim-…); set "
            "FACTCHECK_ORGANISATION_URL (or organisation_url in factcheck.toml) or pass --base-url with the "
            "address where the report is published")
    skipped = sum(1 for c in report.claims if c.verdict is None)
    if skipped:
        report.warnings.append(f"{skipped} claim(s) without a verdict have no ClaimReview")
    return script_safe_json(reviews)


def script_safe_json(data: Any) -> str:
    """JSON that can be pasted into a `<script type="application/ld+json">` block as is: `<`, `>` and `&`
    are written as \\u escapes, so hostile text cannot close the block (same data for any JSON reader)."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"

