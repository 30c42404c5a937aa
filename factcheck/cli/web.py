"""`factcheck serve` (the web desk) and `factcheck users …` (its accounts). A thin layer over the library."""

from __future__ import annotations

import sys

import click

from factcheck.cli.app import App, cli, print_json

ROLE_CHOICE = click.Choice(["viewer", "checker", "editor"])


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Only change it behind TLS on a network you trust.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port.")
@click.option("--secure-cookies", is_flag=True,
              help="Send the session cookie only over HTTPS (set this when a TLS proxy is in front).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes (one Python process uses about one core; on PostgreSQL a busy desk "
                   "wants about one per core. A SQLite desk keeps one writer at a time whatever the count).")
@click.pass_obj
def serve(app: App, host: str, port: int, secure_cookies: bool, workers: int) -> None:
    """Run the web desk: queue, claims and evidence, reviews, reports; sign in with `factcheck users add`."""
    import uvicorn

    from factcheck.desk.db import DeskError, connection_room
    from factcheck.desk.users import list_users
    from factcheck.web import create_app

    per_process = app.settings.web_connections
    if per_process < 1:
        raise DeskError(f"web_connections must be at least 1, not {per_process}")
    desk = app.desk(pool=per_process)
    room = connection_room(desk.engine)
    if room is not None:  # a database server: the processes' connections must fit under its limit
        allowed, open_now = room
        need = workers * per_process
        if need > allowed:
            raise DeskError(f"{workers} server process(es) x {per_process} connections (web_connections) = {need}, "
                            f"more than the database allows ({allowed}, its max_connections): use fewer "
                            "--workers or a lower web_connections")
        if need > allowed - open_now:
            click.echo(f"Warning: {workers} server process(es) may open {need} database connections; the database "
                       f"allows {allowed} and {open_now} are open now: under load some requests may be answered "
                       "503 (busy)", err=True)
    with desk.session() as s:
        has_users = bool(list_users(s))
    from factcheck.web.app import LOCAL_HOSTS, WILDCARD_HOSTS, allowed_hosts

    web = create_app(desk, app.settings, secure_cookies=secure_cookies, hosts=allowed_hosts(app.settings, host))
    if not has_users:
        click.echo("Warning: this desk has no users yet; add one with "
                   "`factcheck users add NAME --role checker`", err=True)
    if host not in LOCAL_HOSTS:
        click.echo(f"Warning: listening on {host}: anyone who can reach it sees the sign-in page; "
                   "put it behind TLS and use --secure-cookies", err=True)
        if host in WILDCARD_HOSTS and not str(app.settings.web_hosts or "").strip():
            click.echo("Warning: only requests for localhost are answered; name the desk's host in "
                       "FACTCHECK_WEB_HOSTS (or web_hosts in factcheck.toml)", err=True)
    click.echo(f"factcheck web desk on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
    if workers == 1:
        uvicorn.run(web, host=host, port=port, log_level="info", proxy_headers=False, server_header=False)
        return
    import json
    import os

    from factcheck.web.app import WORKER_ENV

    desk.dispose()  # each worker opens its own connections
    # the workers resolve their settings as this process did: pass down what flags decided
    os.environ["FACTCHECK_DB"] = str(app.settings.db)
    os.environ["FACTCHECK_EVIDENCE_DIR"] = str(app.settings.evidence_path)
    os.environ[WORKER_ENV] = json.dumps({"secure_cookies": secure_cookies,
                                         "hosts": allowed_hosts(app.settings, host)})
    import contextlib
    import socket

    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("factcheck.web.app:worker_app", factory=True, workers=workers, host=host, port=port,
                            log_level="info", proxy_headers=False, server_header=False)
    sock = config.bind_socket()
    # connections accepted in the worker processes inherit this (Linux); without it their small writes wait
    # for the client's delayed ACK, about 40 ms a request (asyncio sets it only on sockets it knows are TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()


@click.group("users")
def users_group() -> None:
    """Accounts for the web desk: viewers read, checkers review, editors also manage sources and users."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the person may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin "
              "(else it is asked for, twice, without echo).")
@click.option("--by", help="Who adds the account (else FACTCHECK_USER).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def users_add(app: App, name: str, role: str, password_stdin: bool, by: str | None, as_json: bool) -> None:
    """Create an account."""
    from factcheck.desk.users import add_user, check_name, check_password, user_dict

    check_name(name)  # fail before asking for a password
    password = _read_password(password_stdin)
    check_password(password)
    with app.desk().session() as s:
        u = add_user(s, name, role=role, password=password, actor=app.actor(by))
        d = user_dict(u)
    if as_json:

        print_json(d)
    else:
        click.echo(f"Added {d['name']} ({d['role']}).")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj
def users_list(app: App, as_json: bool) -> None:
    """List accounts (never their passwords)."""
    from factcheck.desk.users import list_users, user_dict

    with app.desk().session() as s:
        rows = [user_dict(u) for u in list_users(s)]
    if as_json:

        print_json(rows)
        return
    if not rows:
        click.echo("No users yet: add one with `factcheck users add NAME --role checker`.")
        return
    for r in rows:
        state = "  (disabled)" if r["disabled"] else ""
        click.echo(f"{r['name']:<24} {r['role']:<8} since {r['created_at'][:10]}{state}")


@users_group.command("set")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, help="New role.")
@click.option("--disable/--enable", "disabled", default=None, help="Lock or unlock the account.")
@click.option("--password", "new_password", is_flag=True, help="Set a new password (asked for, or stdin).")
@click.option("--password-stdin", is_flag=True, help="With --password: read it from stdin.")
@click.option("--by", help="Who makes the change (else FACTCHECK_USER).")
@click.pass_obj
def users_set(app: App, name: str, role: str | None, disabled: bool | None, new_password: bool,
              password_stdin: bool, by: str | None) -> None:
    """Change an account's role, lock it, or set its password."""
    from factcheck.desk.users import get_user, set_disabled, set_password, set_role

    if role is None and disabled is None and not new_password:
        raise click.UsageError("nothing to change: give --role, --disable/--enable or --password")
    password = _read_password(password_stdin) if new_password else None
    with app.desk().session() as s:
        get_user(s, name)
        actor = app.actor(by)
        if role is not None:
            set_role(s, name, role, actor=actor)
        if disabled is not None:
            set_disabled(s, name, disabled, actor=actor)
        if password is not None:
            set_password(s, name, password, actor=actor)
    click.echo(f"Updated {name}.")


# registered on the root group when this module is imported (see app.COMMAND_MODULES)
cli.add_command(serve)
cli.add_command(users_group, name="users")
