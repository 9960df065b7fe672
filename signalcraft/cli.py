"""The ``signalcraft`` command. Every subcommand takes ``--config`` and ``--json``, prints
errors to stderr as one line, and exits non-zero on failure (2 for usage and config)."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import apsw
import orjson

from signalcraft import __version__
from signalcraft import integrations as svc
from signalcraft.auth import members, passwords, service
from signalcraft.auth.rbac import API_KEY_ROLES, Role
from signalcraft.config import ConfigError, Settings, load_settings
from signalcraft.db import Database, backup
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.db.queries import integrations as iq
from signalcraft.db.queries import schedules as sq
from signalcraft.errors import InvalidInput, NotFound, SignalCraftError
from signalcraft.ingest.registry import SOURCES

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class Out:
    """Prints results as text or as one JSON document."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, data: Any, text: str) -> None:
        if self.as_json:
            sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            sys.stdout.write(text.rstrip("\n") + "\n")


def _settings(args: argparse.Namespace) -> Settings:
    path = args.config or os.environ.get("SIGNALCRAFT_CONFIG") or None
    return load_settings(path)


def _with_db(args: argparse.Namespace, fn: Callable[[Database, Settings], int]) -> int:
    settings = _settings(args)
    db = Database.from_settings(settings)
    db.open()
    try:
        return fn(db, settings)
    finally:
        db.close()


def _now() -> float:
    import time

    return time.time()


def _password_from(args: argparse.Namespace, *, cfg_min: int) -> tuple[str, bool]:
    """(password, generated). From --password-file, stdin ('-'), or generated."""
    if args.password_file:
        source = args.password_file
        text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
        password = text.strip("\n")
        passwords.check_new_password(password, min_length=cfg_min)
        return password, False
    return secrets.token_urlsafe(15), True


# --- commands ---------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvloop

    from signalcraft import logs, runtime
    from signalcraft.db.lock import DataDirLock

    settings = _settings(args)
    logs.configure(settings.log)
    if not settings.source:
        print(
            f"No config file given: using built-in defaults (data in {settings.data.dir}, "
            f"http://{settings.server.host}:{settings.server.port}).",
            file=sys.stderr,
        )
    with DataDirLock(settings.data.path):
        # uvloop's event loop: +39 % ingest requests/s over asyncio's (docs/benchmarks.md).
        return uvloop.run(runtime.serve(settings))


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    Out(args.json).emit(
        {"ok": True, "source": settings.source or "defaults"},
        f"configuration OK ({settings.source or 'built-in defaults'})",
    )
    return EXIT_OK


def cmd_example_config(args: argparse.Namespace) -> int:
    """Print the documented example configuration shipped with this build (every key, its
    default and what it accepts), to start a config file from."""
    from signalcraft.paths import example_config

    sys.stdout.write(example_config().read_text(encoding="utf-8"))
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    from signalcraft.db import migrate

    settings = _settings(args)
    settings.data.path.mkdir(parents=True, exist_ok=True)
    applied = migrate.migrate_file(settings.data.database_path)
    names = [f"{m.version:04d}_{m.name}" for m in applied]
    Out(args.json).emit(
        {"applied": names, "version": migrate.latest_version()},
        "\n".join(f"applied {n}" for n in names) or "database is up to date",
    )
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.config or "signalcraft.toml")
    if target.exists() and not args.force:
        raise InvalidInput(f"{target} exists already (use --force to overwrite)", field="--config")
    data_dir = args.data_dir or "./signalcraft-data"
    # Check everything the user typed before writing anything, so a failed init can be retried.
    q.check_email(args.email)
    q.check_slug(args.workspace)
    password, generated = _password_from(args, cfg_min=load_settings(None).auth.password_min_length)
    hashed = passwords.hash_password(password)
    target.write_text(
        f'# SignalCraft configuration. Every key: config.example.toml\n\n[data]\ndir = "{data_dir}"\n',
        encoding="utf-8",
    )
    args.config = str(target)

    def create(db: Database, settings: Settings) -> int:
        from signalcraft.web.auth_pages import create_owner

        user, ws = db.write(
            lambda c: create_owner(
                c,
                args.email,
                args.name or "",
                hashed,
                args.workspace,
                args.workspace_name or args.workspace,
                audit.CLI,
                _now(),
            )
        )
        data = {
            "config": str(target),
            "workspace": ws.slug,
            "email": user.email,
            "password": password if generated else None,
        }
        text = f"wrote {target}\ncreated workspace {ws.slug} with owner {user.email}"
        if generated:
            text += f"\ngenerated password (shown once): {password}"
        Out(args.json).emit(data, text)
        return EXIT_OK

    try:
        return _with_db(args, create)
    except BaseException:
        target.unlink(missing_ok=True)  # nothing half-done: the next init starts clean
        raise


def cmd_user(args: argparse.Namespace) -> int:
    def run(db: Database, settings: Settings) -> int:
        out, now = Out(args.json), _now()
        if args.action == "list":
            found = db.read(q.list_users)
            out.emit(
                [
                    {
                        "id": u.id,
                        "email": u.email,
                        "name": u.name,
                        "disabled": u.disabled,
                        "instance_admin": u.is_instance_admin,
                    }
                    for u, _ in found
                ],
                "\n".join(f"{u.id}\t{u.email}\t{'disabled' if u.disabled else 'active'}" for u, _ in found)
                or "no users",
            )
            return EXIT_OK
        if args.action == "create":
            password, generated = _password_from(args, cfg_min=settings.auth.password_min_length)
            hashed = passwords.hash_password(password)
            role = members.parse_role(args.role, "--role")

            def create(conn: apsw.Connection) -> q.User:
                user = q.create_user(
                    conn, args.email, args.name or "", hashed, now, instance_admin=args.instance_admin
                )
                audit.record(conn, audit.CLI, "user.create", now, target=user.email)
                if args.workspace:
                    ws = _workspace(conn, args.workspace)
                    q.set_membership(conn, ws.id, user.id, role, now)
                    audit.record(
                        conn,
                        audit.CLI,
                        "member.add",
                        now,
                        workspace_id=ws.id,
                        target=user.email,
                        detail={"after": {"role": role.value}},
                    )
                return user

            user = db.write(create)
            text = f"created user {user.email} (id {user.id})"
            if generated:
                text += f"\ngenerated password (shown once): {password}"
            out.emit({"id": user.id, "email": user.email, "password": password if generated else None}, text)
            return EXIT_OK
        maybe_user = db.read(lambda c: q.user_by_email(c, args.email))
        if maybe_user is None:
            raise NotFound(f"no user with email {args.email}", field="--email")
        user = maybe_user
        if args.action in ("disable", "enable"):
            disabled = args.action == "disable"

            def toggle(conn: apsw.Connection) -> None:
                q.set_disabled(conn, user.id, disabled, now)
                audit.record(conn, audit.CLI, f"user.{args.action}", now, target=user.email)

            db.write(toggle)
            out.emit({"email": user.email, "disabled": disabled}, f"{args.action}d {user.email}")
            return EXIT_OK
        token = db.write(lambda c: service.issue_reset_link(c, settings.auth, user.id, audit.CLI, now))
        link = f"{settings.server.public_url()}/reset/{token}"
        out.emit(
            {"email": user.email, "reset_link": link},
            f"one-time password reset link for {user.email} "
            f"(valid {settings.auth.reset_link_hours} h):\n{link}",
        )
        return EXIT_OK

    return _with_db(args, run)


def _workspace(conn: apsw.Connection, slug: str) -> q.Workspace:
    ws = q.workspace_by_slug(conn, slug)
    if ws is None:
        raise NotFound(f"no workspace {slug!r}", field="--workspace")
    return ws


def cmd_workspace(args: argparse.Namespace) -> int:
    def run(db: Database, settings: Settings) -> int:
        out, now = Out(args.json), _now()
        if args.action == "list":
            found = db.read(q.list_workspaces)
            out.emit(
                [{"slug": w.slug, "name": w.name} for w in found],
                "\n".join(f"{w.slug}\t{w.name}" for w in found) or "no workspaces",
            )
            return EXIT_OK

        def create(conn: apsw.Connection) -> q.Workspace:
            ws = q.create_workspace(conn, args.slug, args.name or args.slug, now)
            audit.record(conn, audit.CLI, "workspace.create", now, workspace_id=ws.id, target=ws.slug)
            if args.owner:
                owner = q.user_by_email(conn, args.owner)
                if owner is None:
                    raise NotFound(f"no user with email {args.owner}", field="--owner")
                q.set_membership(conn, ws.id, owner.id, Role.OWNER, now)
            return ws

        ws = db.write(create)
        out.emit({"slug": ws.slug, "name": ws.name}, f"created workspace {ws.slug}")
        return EXIT_OK

    return _with_db(args, run)


def cmd_apikey(args: argparse.Namespace) -> int:
    def run(db: Database, settings: Settings) -> int:
        out, now = Out(args.json), _now()
        ws = db.read(lambda c: _workspace(c, args.workspace))
        if args.action == "list":
            keys = db.read(lambda c: q.list_api_keys(c, ws.id))
            out.emit(
                [
                    {
                        "id": k.id,
                        "name": k.name,
                        "prefix": f"sck_{k.prefix}",
                        "role": k.role.value,
                        "revoked": k.revoked_at is not None,
                        "expires_at": k.expires_at,
                        "last_used_at": k.last_used_at,
                    }
                    for k in keys
                ],
                "\n".join(
                    f"{k.id}\tsck_{k.prefix}\t{k.role.value}\t{k.name}{'  (revoked)' if k.revoked_at else ''}"
                    for k in keys
                )
                or "no API keys",
            )
            return EXIT_OK
        if args.action == "revoke":
            row = db.write(lambda c: members.revoke_key(c, ws, args.id, audit.CLI, now))
            out.emit({"id": row.id, "revoked_at": row.revoked_at}, f"revoked sck_{row.prefix}")
            return EXIT_OK
        role = members.parse_role(args.role, "--role")
        if role not in API_KEY_ROLES:
            raise InvalidInput("an API key's role is admin, responder or viewer", field="--role")
        expires = now + args.expires_days * 86400.0 if args.expires_days else None
        created = db.write(
            lambda c: service.create_api_key(c, ws.id, args.name, role, audit.CLI, now, expires)
        )
        out.emit(
            {
                "id": created.row.id,
                "key": created.key,
                "prefix": f"sck_{created.row.prefix}",
                "role": role.value,
                "expires_at": expires,
            },
            f"API key (shown once, stored hashed):\n{created.key}",
        )
        return EXIT_OK

    return _with_db(args, run)


def _integration_settings(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON ({exc})", field="--settings-json") from None
    if not isinstance(value, dict):
        raise InvalidInput("must be a JSON object", field="--settings-json")
    return value


def _integration_row(i: iq.Integration) -> dict[str, Any]:
    return {
        "id": i.id,
        "type": i.type,
        "name": i.name,
        "token_hint": i.token_hint,
        "settings": svc.public_settings(i.settings),
        "created_at": i.created_at,
        "rotated_at": i.rotated_at,
        "revoked_at": i.revoked_at,
        "last_received_at": i.last_received_at,
    }


def _emit_credential(out: Out, created: svc.Created, base_url: str, verb: str) -> None:
    """What the monitoring tool needs, shown once: the same ``credential_for`` as the API."""
    integration = created.integration
    cred = svc.credential_for(integration, created.token, base_url)
    out.emit(
        {
            "id": integration.id,
            "type": integration.type,
            "name": integration.name,
            "ingest_url": cred.ingest_url,
            "credential": cred.as_dict(),
        },
        f"{verb} integration {integration.id} ({integration.type}, {integration.name})\n"
        f"ingest URL: {cred.ingest_url}\n"
        f"{cred.credential_name} (shown once, stored hashed): {cred.credential}",
    )


def _refused_within(what: str) -> str:
    """A running server caches integrations by credential for a few seconds."""
    from signalcraft.web.ingest.common import CACHE_SECONDS  # imports litestar: only when needed

    return f"a running server refuses {what} within {CACHE_SECONDS:g} s"


def cmd_integration(args: argparse.Namespace) -> int:
    def run(db: Database, settings: Settings) -> int:
        out, now = Out(args.json), _now()
        ws = db.read(lambda c: _workspace(c, args.workspace))
        base_url = settings.server.public_url()
        if args.action == "list":
            found = db.read(lambda c: iq.list_for(c, ws.id))
            out.emit(
                [_integration_row(i) for i in found],
                "\n".join(
                    f"{i.id}\t{i.type}\t{i.token_hint}...\t{i.name}{'  (revoked)' if i.revoked_at else ''}"
                    for i in found
                )
                or "no integrations",
            )
            return EXIT_OK
        if args.action == "revoke":
            row = db.write(lambda c: svc.revoke(c, ws.id, args.id, audit.CLI, now))
            out.emit(
                {"id": row.id, "revoked_at": row.revoked_at},
                f"revoked integration {row.id} ({row.name}); {_refused_within('its credential')}",
            )
            return EXIT_OK
        if args.action == "rotate":
            rotated = db.write(lambda c: svc.rotate(c, ws.id, args.id, audit.CLI, now))
            _emit_credential(out, rotated, base_url, "rotated")
            if not args.json:
                sys.stdout.write(_refused_within("the old credential") + "\n")
            return EXIT_OK
        if args.type not in SOURCES:
            raise InvalidInput(f"choose one of: {', '.join(SOURCES)}", field="--type")
        wanted = _integration_settings(args.settings_json)
        created = db.write(lambda c: svc.create(c, ws.id, args.type, args.name, wanted, audit.CLI, now))
        _emit_credential(out, created, base_url, "created")
        return EXIT_OK

    return _with_db(args, run)


def cmd_backup(args: argparse.Namespace) -> int:
    from signalcraft import archive

    settings = _settings(args)
    target = Path(args.file)
    if args.database_only:
        result = backup.backup_database(settings.data.database_path, target)
        Out(args.json).emit(
            {"file": str(result.path), "bytes": result.size, "schema_version": result.version},
            f"backup written to {result.path} ({result.size} bytes, schema {result.version}; database only)",
        )
        _master_key_note(settings)
        return EXIT_OK
    full = archive.write_archive(settings.data.path, settings.data.database_path, target)
    Out(args.json).emit(
        {
            "file": str(full.path),
            "bytes": full.size,
            "schema_version": full.version,
            "replay_files": full.replay_files,
        },
        f"backup written to {full.path} ({full.size} bytes, schema {full.version}, "
        f"{full.replay_files} replay files)",
    )
    _master_key_note(settings)
    return EXIT_OK


def _master_key_note(settings: Settings) -> None:
    """Backups never hold the master key (a stolen backup alone must not open the secrets)."""
    from signalcraft.auth.keyring import MASTER_KEY_FILE

    configured = bool(settings.secrets.master_key)
    where = "[secrets] master_key" if configured else str(settings.data.path / MASTER_KEY_FILE)
    print(
        f"note: the master key ({where}) is not in the backup: keep a copy of it apart from the "
        "backups; without it the channel secrets in a restored database cannot be read",
        file=sys.stderr,
    )


def cmd_restore(args: argparse.Namespace) -> int:
    from signalcraft import archive
    from signalcraft.db.lock import DataDirLock

    settings = _settings(args)
    source = Path(args.file)
    if not source.is_file():
        raise InvalidInput(f"{source}: no such file", field="file")
    settings.data.path.mkdir(parents=True, exist_ok=True)
    with DataDirLock(settings.data.path):
        if archive.is_sqlite_file(source):  # a --database-only backup: replay files stay as they are
            result = backup.restore_database(source, settings.data.database_path)
            what, replay_files = "database only", None
        else:
            full = archive.restore_archive(source, settings.data.path, settings.data.database_path)
            result = backup.BackupResult(settings.data.database_path, 0, full.version)
            what, replay_files = f"{full.replay_files} replay files", full.replay_files
    Out(args.json).emit(
        {"file": str(result.path), "schema_version": result.version, "replay_files": replay_files},
        f"restored {args.file} into {settings.data.path} (schema {result.version}, {what}; "
        "newer migrations apply at next start)",
    )
    return EXIT_OK


def _vacuum(settings: Settings, out: Out, *, incremental: bool) -> int:
    """Offline VACUUM (it holds the write lock throughout): the server must be stopped."""
    from signalcraft.db.connection import open_connection
    from signalcraft.db.lock import DataDirLock
    from signalcraft.db.queries import retention as rq

    path = settings.data.database_path
    if not path.is_file():
        raise InvalidInput(f"{path}: no database here", field="config")
    before = path.stat().st_size
    with DataDirLock(settings.data.path):
        conn = open_connection(path, busy_timeout_ms=settings.database.busy_timeout_ms)
        try:
            rq.vacuum(conn, incremental=incremental)
            mode = rq.auto_vacuum_mode(conn)
        finally:
            conn.close()
    after = path.stat().st_size
    out.emit({"file": str(path), "bytes_before": before, "bytes_after": after, "auto_vacuum": mode},
             f"vacuumed {path}: {before} -> {after} bytes (auto_vacuum={mode})")
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    settings = _settings(args)
    out = Out(args.json)
    if args.action == "vacuum":
        return _vacuum(settings, out, incremental=args.incremental)
    if args.action == "tables":
        counts = backup.table_counts(settings.data.database_path)
        out.emit(counts, "\n".join(f"{name}\t{n}" for name, n in counts.items()))
        return EXIT_OK
    for line in backup.export_table(settings.data.database_path, args.table, limit=args.limit):
        sys.stdout.write(line + "\n")
    return EXIT_OK



def cmd_oncall(args: argparse.Namespace) -> int:
    from signalcraft.oncall import store
    from signalcraft.oncall.store import local_epoch

    def run(db: Database, settings: Settings) -> int:
        try:
            at = local_epoch(args.at, "UTC") if args.at else _now()
        except ValueError:
            raise InvalidInput("an ISO 8601 time, e.g. 2027-03-28T09:00+02:00 (UTC without an offset)",
                               field="--at") from None

        def read(conn: apsw.Connection) -> list[dict[str, Any]]:
            spaces = [_workspace(conn, args.workspace)] if args.workspace else q.list_workspaces(conn)
            found = [(ws, row, now) for ws in spaces
                     for row, now in store.on_call_by_schedule(conn, ws.id, at, name=args.schedule)]
            if args.schedule and not found:
                raise NotFound(f"no schedule named {args.schedule!r}", field="--schedule")
            names = sq.display_names(conn, {n.user_id for _, _, n in found if n.user_id is not None})
            return [{"workspace": ws.slug, "schedule": row.name, "user_id": now.user_id,
                     "user": names.get(now.user_id or 0, ""), "until": now.until}
                    for ws, row, now in found]

        found = db.read(read)
        text = "\n".join(f"{r['workspace']}\t{r['schedule']}\t{r['user'] or '(nobody)'}" for r in found)
        Out(args.json).emit(found, text or "no schedules")
        return EXIT_OK

    return _with_db(args, run)

# --- parser -----------------------------------------------------------------------------


def cmd_keys(args: argparse.Namespace) -> int:
    from signalcraft.auth import key_rotation

    if not args.new_master_key_file and not args.data_keys:
        raise InvalidInput("give a new master key file and/or --data-keys", field="--new-master-key-file")

    def run(db: Database, settings: Settings) -> int:
        now = _now()
        master = None
        if args.new_master_key_file:
            new, created = key_rotation.master_key_from(Path(args.new_master_key_file))
            master = key_rotation.add_master(db, new, created, now)
        data = None
        if args.data_keys:
            also = (new,) if master is not None else ()
            data = key_rotation.rotate_data_keys(db, now, also=also, batch_size=args.batch_size)
        lines, doc = [], {}
        if master is not None:
            doc["master_key"] = {
                "previous_id": master.previous_id,
                "id": master.new_id,
                "file": str(master.file),
                "created": master.created,
                "data_keys_wrapped": master.wrapped,
            }
            lines += [
                f"master key {master.new_id} ({'new, written to' if master.created else 'read from'} "
                f"{master.file}) now wraps {master.wrapped} data keys next to {master.previous_id}",
                f"next: set [secrets] master_key_file = \"{master.file}\" (or replace "
                f"{db.keyring.key_file} with it when no master key is configured) and restart; that start "
                f"retires master key {master.previous_id}",
            ]
        if data is not None:
            doc["data_keys"] = {"new": data.new_keys, "rows_resealed": data.resealed, "retired": data.retired}
            lines.append(
                f"data keys: {data.new_keys} new, {data.resealed} rows re-encrypted, "
                f"{data.retired} old keys deleted"
            )
        Out(args.json).emit(doc, "\n".join(lines))
        return EXIT_OK

    return _with_db(args, run)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML config file (default: $SIGNALCRAFT_CONFIG, else built-in defaults)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signalcraft", description="Self-hosted alert management, on-call and uptime in one process."
    )
    parser.add_argument("--version", action="version", version=f"signalcraft {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p)
        p.set_defaults(func=fn)
        return p

    add("serve", cmd_serve, "run the web server, task queue and probes in one process")
    add("check-config", cmd_check_config, "validate the configuration and exit")
    add("example-config", cmd_example_config, "print the example configuration (every key with its default)")
    add("migrate", cmd_migrate, "apply database migrations")
    p = add("init", cmd_init, "write a config file and create the first workspace and owner")
    p.add_argument("--email", required=True)
    p.add_argument("--name", default="")
    p.add_argument("--workspace", default="default", help="workspace slug")
    p.add_argument("--workspace-name", default="")
    p.add_argument("--data-dir", default="")
    p.add_argument("--password-file", help="read the password from FILE ('-' for stdin); default: generate")
    p.add_argument("--force", action="store_true", help="overwrite an existing config file")

    p = add("user", cmd_user, "manage users")
    p.add_argument("action", choices=["create", "list", "disable", "enable", "reset-password"])
    p.add_argument("--email", default="")
    p.add_argument("--name", default="")
    p.add_argument("--workspace", default="", help="with create: add to this workspace")
    p.add_argument("--role", default="responder", help="with create --workspace")
    p.add_argument("--instance-admin", action="store_true")
    p.add_argument("--password-file", help="read the password from FILE ('-' for stdin); default: generate")

    p = add("workspace", cmd_workspace, "manage workspaces")
    p.add_argument("action", choices=["create", "list"])
    p.add_argument("--slug", default="")
    p.add_argument("--name", default="")
    p.add_argument("--owner", default="", help="email of an existing user to make owner")

    p = add("apikey", cmd_apikey, "manage API keys")
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("--workspace", required=True)
    p.add_argument("--name", default="")
    p.add_argument("--role", default="responder")
    p.add_argument("--expires-days", type=int, default=0)
    p.add_argument("--id", type=int, default=0, help="with revoke: the key's id")

    p = add("integration", cmd_integration, "manage integrations (where monitoring tools send alerts)")
    p.add_argument("action", choices=["create", "list", "rotate", "revoke"])
    p.add_argument("--workspace", required=True)
    p.add_argument("--type", default="", help=f"with create: one of {', '.join(SOURCES)}")
    p.add_argument("--name", default="", help="with create")
    example = '{"mapping": {"title": "check.name"}}'
    p.add_argument(
        "--settings-json", default="", metavar="JSON", help=f"with create: e.g. '{example}' for a webhook"
    )
    p.add_argument("--id", type=int, default=0, help="with rotate and revoke: the integration's id")

    p = add(
        "backup", cmd_backup, "write a tar archive of the database and replay files (safe while serving)"
    )
    p.add_argument("file")
    p.add_argument(
        "--database-only", action="store_true", help="write only a copy of the SQLite database, no replays"
    )
    p = add(
        "restore", cmd_restore, "replace the database and replay files with a backup (stop the server first)"
    )
    p.add_argument("file")
    p = add("keys", cmd_keys, "rotate the keys that encrypt stored secrets (safe while serving)")
    p.add_argument("action", choices=["rotate"])
    p.add_argument(
        "--new-master-key-file",
        default="",
        metavar="FILE",
        help="wrap every data key with the master key in FILE (written with a new random key if missing)",
    )
    p.add_argument(
        "--data-keys", action="store_true", help="make new data keys and re-encrypt every secret with them"
    )
    p.add_argument("--batch-size", type=int, default=50, help="rows re-encrypted per write transaction")
    p = add("db", cmd_db, "inspect the database (table counts, a table as JSON lines) or VACUUM it offline")
    p.add_argument("action", choices=["tables", "export", "vacuum"])
    p.add_argument("table", nargs="?", default="")
    p.add_argument("--incremental", action="store_true",
                   help="with vacuum: switch the file to auto_vacuum=incremental (nightly retention then "
                   "returns free pages to the disk)")
    p.add_argument("--limit", type=int, default=0)
    p = add("oncall", cmd_oncall, "on-call schedules: who is on call now or at a time, per schedule")
    p.add_argument("action", choices=["who"])
    p.add_argument("--workspace", default="", help="workspace slug (default: every workspace)")
    p.add_argument("--schedule", default="", help="only the schedule with this name")
    p.add_argument("--at", default="", help="ISO 8601 time (default: now; UTC without an offset)")
    return parser


def _require(args: argparse.Namespace) -> None:
    needs = {
        ("user", "create"): ["email"],
        ("user", "disable"): ["email"],
        ("user", "enable"): ["email"],
        ("user", "reset-password"): ["email"],
        ("workspace", "create"): ["slug"],
        ("apikey", "create"): ["name"],
        ("apikey", "revoke"): ["id"],
        ("integration", "create"): ["type", "name"],
        ("integration", "rotate"): ["id"],
        ("integration", "revoke"): ["id"],
        ("db", "export"): ["table"],
    }
    for name in needs.get((args.command, getattr(args, "action", "")), []):
        if not getattr(args, name):
            raise InvalidInput("is required here", field=f"--{name.replace('_', '-')}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _require(args)
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SignalCraftError as exc:
        where = f"{exc.field}: " if exc.field else ""
        print(f"error: {where}{exc.message}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, InvalidInput) else EXIT_FAIL
    except OSError as exc:
        print(f"error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
