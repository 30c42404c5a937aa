"""The desk's database: engine, sessions and schema state (Alembic is the only way the schema changes)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DataError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from factcheck.errors import FactcheckError
from factcheck.resources import migrations_dir

if TYPE_CHECKING:
    from alembic.config import Config


class DeskError(FactcheckError):
    pass


class DeskNotReady(DeskError):
    """The desk has no schema yet, or an older one."""


class DeskRefused(DeskError):
    """The database refused a change (a constraint, or a value it cannot hold); nothing was stored."""


_DUPLICATES: list[tuple[tuple[str, ...], str]] = [
    (("claim_evidence",), "a claim lists the same evidence URL twice"),
    (("case_file",), "another import or ingest created the same case at the same moment; run it again"),
    (("uq_claim_", "claim.case_id", "claim.key"),
     "another import or ingest stored the same claim at the same moment; run it again"),
    (("evidence_url",), "another process queued the same evidence URL at the same moment; run it again"),
    (("uq_source_", "source.name"), "another process added the same source at the same moment; run it again"),
]


def explain_refusal(exc: BaseException) -> str:
    """The one translation of a database refusal (IntegrityError, DataError) into a plain sentence: callers
    that know the file or claim prefix it; the command line and the web desk fall back to it alone."""
    msg = str(getattr(exc, "orig", None) or exc)
    low = msg.lower()
    if "0x00" in low:
        return "the text contains a NUL character (\\x00), which the database cannot store"
    if "foreign key" in low:
        return "it refers to a record that no longer exists"
    if "unique" in low or "duplicate key" in low:
        for needles, sentence in _DUPLICATES:
            if any(n in low for n in needles):
                return sentence
        return "a record with the same key exists already (perhaps stored at the same moment); run it again"
    if "too long" in low:
        return "a value is longer than the database allows"
    first = msg.strip().splitlines()[0] if msg.strip() else exc.__class__.__name__
    return f"the database refused the change ({first[:200]})"


def normalise_url(url: str) -> str:
    """Accept a bare file path or postgres:// too; use psycopg 3 for PostgreSQL."""
    if "://" not in url:
        return f"sqlite:///{url}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


POOL_WAIT = 10.0
"""Seconds a request waits for one of its process's connections (`make_engine(pool=N)`) before it is refused
with `sqlalchemy.exc.TimeoutError` (the web desk answers 503, try again)."""


def make_engine(url: str, *, pool: int | None = None) -> Engine:
    """The engine of a desk URL. `pool` (a server process): on a database server, keep at most that many
    connections open, and keep them (no connections opened beyond it for a burst and closed after it: each
    such opening can be refused by a server near its connection limit, and a process must not take more
    than its share); a request beyond them waits up to POOL_WAIT seconds for one."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DeskError(f"not a database URL: {url!r}") from None
    kwargs: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if not db or db == ":memory:":
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            folder = Path(db).expanduser().resolve().parent
            if not folder.is_dir():
                raise DeskError(f"folder for the desk does not exist: {folder}")
            kwargs.update(connect_args={"timeout": 30, "check_same_thread": False})
    elif pool is not None:
        kwargs.update(pool_size=max(1, pool), max_overflow=0, pool_timeout=POOL_WAIT)
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise DeskError(f"cannot use database {parsed.render_as_string(hide_password=True)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        on_disk = bool(parsed.database) and parsed.database != ":memory:"

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if on_disk:
                # write-ahead log: readers keep reading while one writer (a long import) works, and
                # synchronous=NORMAL is safe in WAL mode (a power cut can lose the last commit, never
                # corrupt the file)
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Objects the ORM does not model (the full-text search structures, the job queue's tables on a
    PostgreSQL desk) are not schema drift."""
    return not (name or "").startswith(("passage_fts", "passage_tsv", "claim_fts", "claim_tsv", "procrastinate_",
                                         "idx_procrastinate_"))


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # Alembic is imported only to migrate: every command checks the schema

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["engine"] = engine
    return cfg


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


@cache
def head_revision() -> str | None:
    """The newest migration, read from the migration files' `revision` / `down_revision` lines (a linear
    chain, as ours is); Alembic's own reading is the fallback whenever those lines say anything else."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in sorted(Path(str(migrations_dir())).glob("versions/*.py")):
        found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        rev, down = found["revision"].strip("\"'"), found.get("down_revision", "None").strip("\"'")
        if not rev or "," in down or "(" in down:
            return _alembic_head()
        revisions.add(rev)
        if down != "None":
            downs.add(down)
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(migrations_dir())).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The desk's schema revision, as Alembic records it (its one-row version table)."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except OperationalError as exc:
        raise DeskError(f"cannot open the desk: {_short(exc)}") from None


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Create or upgrade the schema to head; returns (before, after) revisions."""
    before = current_revision(engine)
    from alembic import command

    try:
        command.upgrade(alembic_config(engine), "head")
    except SQLAlchemyError as exc:
        raise DeskError(f"migration failed: {_short(exc)}") from None
    return before, current_revision(engine)


def check_ready(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current is None:
        raise DeskNotReady("the desk has no schema yet: run `factcheck init` first")
    if current != head:
        raise DeskNotReady(f"the desk's schema is behind ({current} < {head}): run `factcheck init` to upgrade")


def connection_room(engine: Engine) -> tuple[int, int] | None:
    """On a database server: (the connections it allows this desk's role, those open now, other than the
    one asking); None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT current_setting('max_connections')::int - CASE WHEN r.rolsuper THEN 0 "
            "       ELSE current_setting('superuser_reserved_connections')::int END, "
            "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "   AND pid <> pg_backend_pid()) "
            "FROM pg_roles r WHERE r.rolname = current_user")).one()
    return int(row[0]), int(row[1])


def _short(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]


class Desk:
    """One working database (plus its evidence folder, see settings).

    `pool`: the most connections this process keeps to a database server (see `make_engine`); a server
    process (the web desk) sets it, a command leaves SQLAlchemy's default.

    With `head_file`, every transaction that added audit events records the chain's new head in that file
    (outside the database) once it commits, signed with `head_key` when one is given; `last_head` is the
    head recorded by this process (None until it changes something).
    """

    def __init__(self, url: str, *, check: bool = True, head_file: Path | None = None,
                 head_key: bytes | None = None, pool: int | None = None) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool=pool)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        from factcheck.desk import queue

        queue.track(self._sessions)  # the triage queue's stored order follows every change made through it
        self.head_file = head_file
        self.head_key = head_key
        self.last_head: Any = None
        self.head_problem: str | None = None
        if check:
            check_ready(self.engine)

    @property
    def identity(self) -> str:
        """The database as named in the audit head file (without any password)."""
        return make_url(self.url).render_as_string(hide_password=True)

    def _after_audited_commit(self) -> None:
        from factcheck.desk import audit

        with self._sessions() as s:
            head = audit.chain_head(s)
        self.last_head = head
        if self.head_file is None:
            return
        try:
            audit.record_head(self.head_file, head, database=self.identity, key=self.head_key)
        except OSError as exc:  # the change is committed; say that its head could not be recorded
            self.head_problem = f"could not record the audit head in {self.head_file}: {exc.strerror or exc}"
        except audit.AuditHeadError as exc:
            self.head_problem = f"the audit head was not recorded: {exc}"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def one_connection(self) -> bool:
        """An in-memory SQLite desk lives in one connection that every session shares: two threads must not
        use it at once (a file or PostgreSQL desk gives each session a connection of its own)."""
        return isinstance(self.engine.pool, StaticPool)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back everything on any error."""
        s = self._sessions()
        try:
            yield s
            s.commit()
        except (IntegrityError, DataError) as exc:
            s.rollback()
            raise DeskRefused(f"nothing was stored: {explain_refusal(exc)}") from exc
        except BaseException:
            s.rollback()
            raise
        finally:
            audited = s.info.pop("audited", False)
            s.close()
        if audited:
            self._after_audited_commit()

    def commit(self, session: Session) -> None:
        """Commit what `session` (one of `session()`'s) holds so far; it goes on in a new transaction. A long
        job (a big import) commits in steps this way, each step's audit head recorded as at the end."""
        session.commit()
        if session.info.pop("audited", False):
            self._after_audited_commit()

    def dispose(self) -> None:
        self.engine.dispose()
