"""All settings in one place, with one precedence: defaults < factcheck.toml < environment < flags.

Every value remembers where it came from, so `factcheck config` can explain itself.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factcheck.errors import FactcheckError


class SettingsError(FactcheckError):
    pass


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    kind: type
    help: str


_SETTINGS: list[Setting] = [
    Setting("db", "sqlite:///factcheck.db", str, "desk database URL (SQLite file or postgresql://…)"),
    Setting("evidence_dir", "evidence", str, "evidence archive folder (relative to the desk folder)"),
    Setting("user", "", str, "who is acting; recorded on every audit event"),
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
    Setting("stale_after_days", 30, int, "captures older than this are re-fetched by `fetch --refresh`"),
    Setting("checkworthiness_threshold", 0.5, float, "sentences at or above this become claims on ingest"),
    Setting("assignment_minutes", 60, int, "how long a `triage next` assignment holds"),
    Setting("top_k", 5, int, "passages kept per claim when judging"),
    Setting("web_hosts", "", str, "host names the web desk answers to besides localhost (comma-separated)"),
    Setting("nli", "auto", str, "entailment model in verdicts: auto (when built), on (required), off"),
]
DEFINITIONS: dict[str, Setting] = {s.name: s for s in _SETTINGS}
ENV_PREFIX = "FACTCHECK_"
CONFIG_FILE = "factcheck.toml"


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
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
    return Settings(values=values, origins=origins, desk_dir=desk_dir)
