"""All settings in one place, with one precedence: defaults < factcheck.toml < environment < flags.

Every value remembers where it came from, so `factcheck config` can explain itself.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factcheck.errors import FactcheckError


class SettingsError(FactcheckError):
    pass


VERDICT_LABELS = ("verified", "unverified", "contested")
"""The desk's three verdicts. Everything a person or the machine decides is one of them."""

DEFAULT_RATINGS = (
    "false=contested:1", "misleading=contested:2", "needs context=unverified:3", "unproven=unverified:3",
    "mostly true=verified:4", "true=verified:5",
)


@dataclass(frozen=True)
class Rating:
    """One step of the desk's own rating scale: what it means (a verdict label) and its ClaimReview value."""

    name: str
    label: str
    value: int

    @property
    def alternate_name(self) -> str:
        """The rating as ClaimReview's alternateName shows it (first letter capitalised)."""
        return self.name[:1].upper() + self.name[1:]


def rating_key(name: str) -> str:
    """How rating names are compared: case and spacing do not matter ("Needs  Context" = "needs context")."""
    return " ".join((name or "").split()).casefold()


def parse_rating_scale(entries: tuple[str, ...] | list[str], origin: str = "rating_scale") -> dict[str, Rating]:
    """`NAME=LABEL:VALUE` entries -> {rating_key(NAME): Rating}; one clear error for any bad entry."""
    scale: dict[str, Rating] = {}
    for entry in entries:
        name, eq, rest = str(entry).partition("=")
        label, colon, value = rest.partition(":")
        name, label, value = " ".join(name.split()), label.strip().lower(), value.strip()
        if not eq or not colon or not name or not value.lstrip("-").isdigit():
            raise SettingsError(f"{origin}: rating {entry!r} must look like NAME=LABEL:VALUE, e.g. false=contested:1")
        if label not in VERDICT_LABELS:
            raise SettingsError(f"{origin}: rating {name!r} maps to {label!r}; use one of {', '.join(VERDICT_LABELS)}")
        if len(name) > 64:
            raise SettingsError(f"{origin}: rating name {name[:20]!r}… is longer than 64 characters")
        key = rating_key(name)
        if key in scale:
            raise SettingsError(f"{origin}: rating {name!r} is listed twice")
        scale[key] = Rating(name, label, int(value))
    return scale


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    kind: type
    help: str
    group: str = "desk"  # "verdict": read by the verdict rules (judge) and stored whole with every run


_SETTINGS: list[Setting] = [
    Setting("db", "sqlite:///factcheck.db", str, "desk database URL (SQLite file or postgresql://…)"),
    Setting("evidence_dir", "evidence", str, "evidence archive folder (relative to the desk folder)"),
    Setting("user", "", str, "who is acting; recorded on every audit event"),
    Setting("audit_head_file", "audit-head.json", str,
            "file outside the database where every change records the audit chain's newest event, checked by "
            "`audit verify` (relative to the desk folder; empty: none)"),
    Setting("audit_key_file", "", str,
            "key (outside the database) that signs the audit head file; made by `factcheck audit keygen`"),
    Setting("organisation", "factcheck desk", str, "publisher named as author of ClaimReview output"),
    Setting("organisation_url", "", str, "URL of the publishing organisation"),
    Setting("user_agent", "factcheck/{version} (fact-check desk; +https://github.com/factcheck/factcheck)", str,
            "User-Agent sent with every request"),
    Setting("contact", "", str, "contact (mail or URL) appended to the User-Agent"),
    Setting("connect_timeout", 5.0, float, "seconds to wait for a connection"),
    Setting("read_timeout", 20.0, float, "seconds to wait between bytes"),
    Setting("max_bytes", 10 * 1024 * 1024, int, "largest page accepted, in bytes"),
    Setting("max_redirects", 10, int, "longest redirect chain followed"),
    Setting("retries", 3, int, "retries on 429/5xx/connection errors"),
    Setting("backoff", 0.5, float, "base seconds of exponential back-off"),
    Setting("per_host_delay", 1.0, float, "minimum seconds between two requests to one host"),
    Setting("concurrency", 8, int, "hosts fetched at once"),
    Setting("obey_robots", True, bool, "obey robots.txt"),
    Setting("allow_private_addresses", False, bool, "allow fetching private/loopback/link-local addresses"),
    Setting("rejudge", True, bool, "judge claims again in a new run when new evidence is captured for them "
            "(fetch, evidence add) or their restatement is edited"),
    Setting("stale_after_days", 30, int, "captures older than this are re-fetched by `fetch --refresh`"),
    Setting("checkworthiness_threshold", 0.5, float, "sentences at or above this become claims on ingest"),
    Setting("assignment_minutes", 60, int, "how long a `triage next` assignment holds"),
    Setting("verify_read_ahead", True, bool, "verify reads the next batch of claims in a second thread while it "
            "judges one (faster where a second core is free; turn off on one busy core)"),
    Setting("top_k", 5, int, "passages kept per claim when judging", "verdict"),
    Setting("rating_scale", DEFAULT_RATINGS, tuple,
            "the desk's rating scale, NAME=VERDICT:CLAIMREVIEW_VALUE (higher value = truer), used by "
            "`review --rating` and in ClaimReview"),
    Setting("handoff_hours", 48, int, "how long `claims assign` (and bulk assign on the web) holds a claim"),
    Setting("web_connections", 10, int, "database connections each web desk process keeps at most "
            "(PostgreSQL; `serve --workers N` needs N times this); a request beyond them waits for one, "
            "then is answered 503"),
    Setting("web_hosts", "", str, "host names the web desk answers to besides localhost (comma-separated)"),
    Setting("chromium", "", str, "Chromium used for PDF reports (default: found on PATH)"),
    Setting("workers", "auto", str, "background workers (PostgreSQL desks): on, the web desk queues new evidence "
            "for them; auto, when a worker is running; off, everything inline"),
    Setting("worker_stalled_after", 30.0, float, "seconds without a worker's heartbeat after which its jobs are "
            "queued again for another worker"),
    Setting("job_attempts", 5, int, "how often a failing job is retried (back-off 2, 4, 8, … seconds)"),
    Setting("verify_batch", 50, int, "claims per job of a queued verification run (`verify --queue`)"),
    Setting("fetch_job_urls", 20, int, "URLs per job of a queued fetch (`fetch --queue`): a job's fixed cost is "
            "shared by its URLs"),
    # ---- the verdict: what judge() reads; a run stores all of them
    Setting("nli", "auto", str, "the reader (entailment model) in verdicts: auto (when one is installed), on, off",
            "verdict"),
    Setting("nli_model", "", str, "reader folder (ONNX or Hugging Face NLI model); empty = the shipped reader",
            "verdict"),
    Setting("semantic", False, bool, "record claim/passage embedding similarity as a reviewer signal", "verdict"),
    Setting("gloss", True, bool, "read a German claim without statement through an English word gloss", "verdict"),
    Setting("gloss_dictionary", "/usr/share/trans/de-en", str,
            "German-English word list for the gloss (Debian trans-de-en)", "verdict"),
    Setting("crosslingual", True, bool, "a German claim without statement may be matched to English passages "
            "by multilingual sentence similarity", "verdict"),
    Setting("crosslingual_low", 0.45, float, "similarity that counts as no coverage at all", "verdict"),
    Setting("crosslingual_high", 0.75, float, "similarity that counts as full coverage", "verdict"),
    Setting("address_coverage", 0.6, float, "share of the claim's weighted content words a passage must state "
            "to address it", "verdict"),
    Setting("verify_coverage", 0.6, float, "share the supporting passages together must state for verified",
            "verdict"),
    Setting("verify_best_coverage", 0.4, float, "share the single best passage must state for verified", "verdict"),
    Setting("support_passages", 3, int, "top passages that may be combined as support", "verdict"),
    Setting("contest_on", ("quantities", "years", "dates", "negation", "ranks", "attribution"), tuple,
            "anchor types whose disagreement makes a claim contested", "verdict"),
    Setting("strict_contest_types", ("negation", "ranks"), tuple,
            "noisier anchor types that need a tighter match before they contest", "verdict"),
    Setting("strict_contest_coverage", 0.7, float, "tightness those types need", "verdict"),
    Setting("contest_coverage", 0.7, float, "how tightly the best sentence must state the claim before its "
            "anchors can contest it", "verdict"),
    Setting("support_mode", "window", str, "window (best sentence and neighbours) or top (top passages)", "verdict"),
    Setting("anchors_scope", "top", str, "where anchors may be confirmed: window or top", "verdict"),
    Setting("names_scope", "pronoun", str, "where names may be found: support, snapshot or pronoun", "verdict"),
    Setting("tied_first", True, bool, "judge only the evidence tied to the claim when there is any", "verdict"),
    Setting("nli_windows", 5, int, "best passages the reader reads", "verdict"),
    Setting("nli_premise", "passage", str, "what the reader reads of each: passage, window or both", "verdict"),
    Setting("nli_support", 0.7, float, "reader entailment probability that counts as support", "verdict"),
    Setting("nli_contradict", 0.9, float, "reader contradiction probability that counts as contesting",
            "verdict"),
    Setting("nli_contest_coverage", 0.3, float, "share of the claim a passage must state before its "
            "contradiction counts", "verdict"),
]
DEFINITIONS: dict[str, Setting] = {s.name: s for s in _SETTINGS}

# ---- field limits: the longest text each kind of input may be, declared once and checked wherever that
# input enters (case files, ingest, review, the web desk). Where a column has a size, the limit is that size,
# so PostgreSQL never refuses what SQLite would store.


@dataclass(frozen=True)
class FieldLimit:
    chars: int
    label: str


FIELD_LIMITS: dict[str, FieldLimit] = {
    "case": FieldLimit(200, "case name"),
    "claim_id": FieldLimit(200, "claim id"),
    "claim_text": FieldLimit(10_000, "claim text"),
    "statement": FieldLimit(10_000, "statement"),
    "source_name": FieldLimit(200, "source name"),
    "alias": FieldLimit(200, "source alias"),
    "domain": FieldLimit(253, "domain"),
    "citation_phrase": FieldLimit(1_000, "citation phrase"),
    "language": FieldLimit(16, "language"),
    "title": FieldLimit(1_000, "title"),
    "outlet": FieldLimit(200, "outlet"),
    "published": FieldLimit(32, "publication date"),
    "file": FieldLimit(1_000, "file path"),
    "url": FieldLimit(4_096, "URL"),
    "note": FieldLimit(10_000, "review note"),
    "flash": FieldLimit(300, "message"),
}


class FieldError(FactcheckError):
    """Text that is too long, or that holds a character no desk database can store."""


SURROGATE = re.compile("[\ud800-\udfff]")
"""A surrogate code point: in text read from a file it is a lone half, which no database can store."""


def check_field(kind: str | None, value: str, what: str | None = None) -> str:
    """`value` unchanged if it fits `kind`'s limit and holds no NUL character or lone surrogate (which
    PostgreSQL cannot store and no terminal can print); else `FieldError` naming the field.

    NUL is refused rather than dropped: quietly changing a quoted text would misquote it. `kind` None checks
    the characters only."""
    name = what or (FIELD_LIMITS[kind].label if kind else "text")
    if "\x00" in value:
        raise FieldError(f"{name} contains a NUL character (\\x00), which the desk does not store; remove it")
    if SURROGATE.search(value):
        raise FieldError(f"{name} is not valid Unicode text (it holds a lone surrogate code point)")
    if kind is not None and len(value) > FIELD_LIMITS[kind].chars:
        raise FieldError(f"{name} is {len(value):,} characters long; the most is {FIELD_LIMITS[kind].chars:,}")
    return value


def fit_field(kind: str, value: str | None) -> str | None:
    """Fetched metadata (a page's title, its site name) cut to `kind`'s limit instead of refused: a page
    that overdoes its title is no mistake of the person ingesting it."""
    if value is None:
        return None
    value = value.replace("\x00", "")
    limit = FIELD_LIMITS[kind].chars
    return value if len(value) <= limit else value[: limit - 1] + "…"

VERDICT_DEFAULTS: dict[str, Any] = {s.name: s.default for s in _SETTINGS if s.group == "verdict"}
ENV_PREFIX = "FACTCHECK_"
CONFIG_FILE = "factcheck.toml"


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    if setting.kind is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise SettingsError(f"{origin}: {setting.name} must be a comma-separated list, not {value!r}")
        return tuple(i.strip() for i in items if i.strip())
    if setting.kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"{origin}: {setting.name} must be true or false, not {value!r}")
    try:
        if setting.kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return setting.kind(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"{origin}: {setting.name} must be {setting.kind.__name__}, not {value!r}"
        ) from None


@dataclass
class Settings:
    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    desk_dir: Path = field(default_factory=Path.cwd)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def evidence_path(self) -> Path:
        p = Path(self.values["evidence_dir"])
        return p if p.is_absolute() else self.desk_dir / p

    def _desk_path(self, name: str) -> Path | None:
        value = str(self.values.get(name) or "").strip()
        if not value:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.desk_dir / p

    @property
    def audit_head_path(self) -> Path | None:
        return self._desk_path("audit_head_file")

    @property
    def audit_key_path(self) -> Path | None:
        return self._desk_path("audit_key_file")

    @property
    def ratings(self) -> dict[str, Rating]:
        """The desk's rating scale by rating_key (checked when the settings were loaded)."""
        return parse_rating_scale(self.values["rating_scale"])

    def rating(self, name: str) -> Rating:
        """The scale step called `name` (any case or spacing), or a one-line error listing the scale."""
        found = self.ratings.get(rating_key(name))
        if found is None:
            names = ", ".join(r.name for r in self.ratings.values()) or "none configured"
            raise SettingsError(f"unknown rating {name!r}; this desk's scale: {names}")
        return found

    def verdict_settings(self) -> dict[str, Any]:
        """What judge() reads, as resolved here (stored whole with every run)."""
        return {n: self.values[n] for n in VERDICT_DEFAULTS}

    def as_rows(self) -> list[dict[str, Any]]:
        return [
            {"name": n, "value": self.values[n], "origin": self.origins[n], "help": DEFINITIONS[n].help}
            for n in DEFINITIONS
        ]


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    desk_dir: Path | None = None,
) -> Settings:
    """Resolve every setting: defaults < factcheck.toml in the desk folder < FACTCHECK_* < flags."""
    environ = os.environ if environ is None else environ
    desk_dir = Path(desk_dir or environ.get(ENV_PREFIX + "DIR") or Path.cwd())
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for s in _SETTINGS:
        values[s.name], origins[s.name] = s.default, "default"

    cfg = desk_dir / CONFIG_FILE
    if cfg.is_file():
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{cfg}: not valid TOML: {exc}") from None
        data = data.get("factcheck", data)
        for key, value in data.items():
            if key not in DEFINITIONS:
                raise SettingsError(f"{cfg}: unknown setting {key!r}")
            values[key] = _coerce(DEFINITIONS[key], value, str(cfg))
            origins[key] = f"file {cfg.name}"

    for s in _SETTINGS:
        env_name = ENV_PREFIX + s.name.upper()
        if env_name in environ:
            values[s.name] = _coerce(s, environ[env_name], f"environment {env_name}")
            origins[s.name] = f"environment {env_name}"

    for key, value in (flags or {}).items():
        if value is None:
            continue
        if key not in DEFINITIONS:
            raise SettingsError(f"unknown setting {key!r}")
        values[key] = _coerce(DEFINITIONS[key], value, f"flag --{key}")
        origins[key] = "flag"
    parse_rating_scale(values["rating_scale"], origins["rating_scale"])  # a bad scale fails here, once
    return Settings(values=values, origins=origins, desk_dir=desk_dir)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def save_setting(desk_dir: Path, name: str, value: Any) -> Path:
    """Set one setting in the desk's factcheck.toml (created if missing), keeping the file's other lines
    and comments. The value is checked as load_settings would check it, and the file must still parse."""
    import re

    if name not in DEFINITIONS:
        raise SettingsError(f"unknown setting {name!r}")
    value = _coerce(DEFINITIONS[name], value, f"setting {name}")
    cfg = Path(desk_dir) / CONFIG_FILE
    text = cfg.read_text(encoding="utf-8") if cfg.is_file() else ""
    line = f"{name} = {_toml_value(value)}"
    pattern = re.compile(rf"^[ \t]*{re.escape(name)}[ \t]*=.*$", re.MULTILINE)
    if pattern.search(text):
        new = pattern.sub(lambda _m: line, text, count=1)
    else:
        new = text + ("" if not text or text.endswith("\n") else "\n") + line + "\n"
    try:
        tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{cfg}: would not be valid TOML after the change: {exc}") from None
    tmp = cfg.with_name(cfg.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(cfg)
    return cfg
