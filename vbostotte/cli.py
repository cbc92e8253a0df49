"""The ``vbostotte`` command: serve, migrate, create-admin, seed-demo, verify-audit, rotate-audit-key,
outbox-worker, backup, retention."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from vbostotte import audit, db, demo
from vbostotte.actors import SYSTEM
from vbostotte.audit import anchors as audit_anchors
from vbostotte.audit import keys as audit_keys
from vbostotte.calls import calls
from vbostotte.config import Settings, SettingsError, load_settings
from vbostotte.errors import InvalidInput
from vbostotte.identity import organisation
from vbostotte.models import StaffRole
from vbostotte.operations import backup, logging_setup
from vbostotte.privacy import consent, retention
from vbostotte.reminders import channels, sender
from vbostotte.web.access_log import PrivateAccessLogger
from vbostotte.web.validation import Form

log = logging.getLogger(__name__)
SHUTDOWN_SECONDS = 20.0  # for requests in flight after SIGTERM; keep it below the orchestrator's stop grace period


async def _with_session(settings: Settings, work, keyring: audit_keys.Keyring | None = None):
    engine = db.create_engine(settings.resolved_database_url)
    try:
        async with db.sessionmaker(engine, keyring or audit_keys.load(settings))() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


async def _migrate(settings: Settings) -> None:
    engine = db.create_engine(settings.resolved_database_url)
    try:
        await db.migrate(engine)
    finally:
        await engine.dispose()


SERVING = "serving"  # the start-up record's message in a JSON log
MFA_OPTIONAL = "staff second factor (TOTP) is optional (VB_STAFF_MFA=optional): demo use only"


def announce(settings: Settings, info: demo.DemoInfo | None) -> None:
    """Say where the service runs (and the demo logins): with JSON logs as log records, the banner one record with
    the logins as fields, so that every line the process writes is JSON; otherwise the readable banner (`make run`)."""
    if settings.log_format != logging_setup.JSON:
        print(_banner(settings, info), flush=True)
        return
    fields: dict = {"base_url": settings.base_url, "staff_mfa": settings.staff_mfa}
    if info:
        fields["demo_logins"] = [
            {"role": role, "email": email, "password": password} for email, password, role in info.logins
        ]
        fields["demo_citizen_links"] = [{"name": name, "url": url} for name, url in info.citizen_links]
    log.info(SERVING, extra={logging_setup.FIELDS: fields})
    if settings.staff_mfa == "optional":
        log.warning(MFA_OPTIONAL)


def _banner(settings: Settings, info: demo.DemoInfo | None) -> str:
    lines = ["", f"Virtuel Bostøtte is running on {settings.base_url}", ""]
    if settings.staff_mfa == "optional":
        lines += ["!! Staff second factor (TOTP) is OPTIONAL (VB_STAFF_MFA=optional): demo use only.", ""]
    if info:
        lines.append(f"Demo logins (password for all: {info.logins[0][1]}):")
        lines += [f"  {role:<11} {email}" for email, _password, role in info.logins]
        lines += ["", "Demo citizens' personal links (open one in a private window):"]
        lines += [f"  {name:<14} {url}" for name, url in info.citizen_links]
        lines.append("")
    return "\n".join(lines)


async def warn_relay_only_without_turn(settings: Settings) -> int:
    """At start-up: log a WARNING when citizens must call through the relay server but no TURN server is
    configured (their calls cannot start, calls/calls.py). How many such citizens there are (0 with TURN)."""
    if calls.relay_available(settings):
        return 0
    engine = db.create_engine(settings.resolved_database_url, connect_timeout=settings.dependency_timeout_seconds)
    try:
        await db.check_migrated(engine)  # an unmigrated database is told as before (db.NotMigrated)
        async with asyncio.timeout(settings.dependency_timeout_seconds * 2):
            async with db.sessionmaker(engine)() as session:
                count = await calls.relay_only_citizens(session)
    except db.NotMigrated:
        raise
    except Exception as exc:  # noqa: BLE001 - the database is down: the server starts anyway (docs/deployment.md)
        log.warning("could not count relay-only citizens at start (%s)", type(exc).__name__)
        return 0
    finally:
        await engine.dispose()
    if count:
        log.warning(
            "%d citizen(s) must call through the relay server (relay-only), but no TURN server is configured "
            "(VB_TURN_URLS with a turn: address, and VB_TURN_SECRET): their video calls cannot start",
            count,
        )
    return count


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from vbostotte.app import create_app, utcnow

    settings = dataclasses.replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    if args.port and settings.base_url == Settings.base_url:
        settings = dataclasses.replace(settings, base_url=f"http://{settings.host}:{settings.port}")
    settings = settings.with_secret()
    info = None
    if args.demo:
        asyncio.run(_migrate(settings))

        info = asyncio.run(_with_session(settings, lambda session: demo.load(session, settings, utcnow())))
    announce(settings, info)
    asyncio.run(warn_relay_only_without_turn(settings))
    # SIGTERM: stop accepting, close call sockets with 1012 (on_shutdown), wait up to SHUTDOWN_SECONDS for
    # requests in flight, then stop the outbox sender after its current message and close the database.
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        shutdown_timeout=SHUTDOWN_SECONDS,
        access_log_class=PrivateAccessLogger,
        loop=event_loop(settings),
    )
    return 0


def event_loop(settings: Settings) -> asyncio.AbstractEventLoop:
    """The server's event loop (``VB_EVENT_LOOP``): uvloop by default, whose sockets and scheduling in C took a sixth
    less of the server's CPU per relayed signalling message than the standard library's (docs/signaling.md,
    "Performance")."""
    if settings.event_loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(backup.backup(settings.resolved_database_url, Path(args.file)))
    except backup.BackupError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def cmd_retention(_args: argparse.Namespace, settings: Settings) -> int:
    from vbostotte.app import utcnow

    deleted = asyncio.run(_with_session(settings, lambda session: retention.run(session, settings, utcnow())))
    days = {rule.kind: rule.days for rule in retention.rules(settings)}
    for kind, count in deleted.items():
        print(f"{kind:<15} {count:>7} deleted (older than {days[kind]} days)")
    print("audit log        kept (append-only; see docs/deployment.md)")
    return 0


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_migrate(settings))
    print(f"Database migrated to {db.head_revision()}.")
    return 0


def cmd_seed_demo(_args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.with_secret()
    from vbostotte.app import utcnow

    created = asyncio.run(_with_session(settings, lambda s: demo.seed(s, settings, utcnow())))
    print("Demo data created." if created else "Demo data already exists.")
    return 0


def cmd_create_admin(args: argparse.Namespace, settings: Settings) -> int:
    from vbostotte.app import utcnow

    password = os.environ.get("VB_ADMIN_PASSWORD") or getpass.getpass("Password (at least 12 characters): ")
    form = Form({"email": args.email, "name": args.name, "municipality": args.municipality, "password": password})
    email, name = form.email("email"), form.text("name", max_len=100)
    municipality_name = form.text("municipality", max_len=100)
    form.password("password")
    try:
        form.check()

        async def create(session):
            municipality = await organisation.get_or_create_municipality(
                session, form.checked(municipality_name), utcnow()
            )
            actor = dataclasses.replace(SYSTEM, municipality_id=municipality.id)
            return await organisation.create_staff(
                session,
                actor,
                municipality.id,
                email=form.checked(email),
                name=form.checked(name),
                role=StaffRole.ADMIN,
                password=password,
                now=utcnow(),
            )

        staff = asyncio.run(_with_session(settings, create))
    except InvalidInput as exc:
        for field, message in exc.errors.items():
            print(f"{field}: {message}", file=sys.stderr)
        return 2
    print(f"Administrator {staff.email} created in {municipality_name}. They set up two-step login at first login.")
    return 0


def cmd_verify_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Both hash chains, the audit log's and the consent events' (privacy/consent.py), against the keys
    (audit_keys.py) and the anchors written outside the database (audit_anchors.py)."""
    default = Path(settings.data_dir) / audit_anchors.ANCHOR_FILE
    paths = [Path(p) for p in args.anchors] if args.anchors else [default] if default.exists() else []
    try:
        found = audit_anchors.read(paths)
    except OSError as exc:
        print(f"anchors: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    keyring = audit_keys.load(settings, create=False)

    async def verify(session):
        return (
            await audit.verify_chain(session, keyring=keyring, anchors=found.anchors),
            await consent.verify_chain(session, keyring=keyring, anchors=found.anchors),
            await consent.count_events(session),
        )

    report, broken, events = asyncio.run(_with_session(settings, verify, keyring))
    print(report)
    print(broken if broken else f"consent chain OK: {events} events verified")
    if found.files:
        newest = max((a.at for a in found.anchors), default="none")
        print(
            f"anchors: {len(found.anchors)} read from {', '.join(map(str, found.files))} (newest {newest})"
            + (f"; {found.unreadable} unreadable lines" if found.unreadable else "")
        )
    else:
        print(
            f"anchors: none ({default} does not exist): entries cut off the end with the head moved back "
            "cannot be detected"
        )
    print(
        f"keys: audit log {report.describe_keys()}" if report.ok else f"keys given: {', '.join(keyring.ids) or 'none'}"
    )
    return 0 if report.ok and broken is None else 1


def cmd_rotate_audit_key(_args: argparse.Namespace, settings: Settings) -> int:
    key_id, line = audit_keys.rotate(settings)
    if line is None:
        print(
            f"New audit key {key_id} appended to {Path(settings.data_dir) / audit_keys.KEY_FILE}; restart the "
            "server processes to use it. The earlier keys stay in the file for verifying older entries."
        )
    else:
        print("VB_AUDIT_KEY is set, so nothing was changed. To rotate, set")
        print(f"  VB_AUDIT_KEY={line}")
        print(
            "and add the current VB_AUDIT_KEY to VB_AUDIT_RETIRED_KEYS (comma-separated) in every process that "
            "writes or verifies, then restart them."
        )
    return 0


async def _outbox_worker(settings: Settings) -> int:
    from vbostotte.app import utcnow

    engine = db.create_engine(settings.resolved_database_url)
    try:
        await db.check_migrated(engine)
        async with channels.open_channels(settings) as open_channels:
            if not open_channels:
                print("Nothing to send with: set VB_SMTP_HOST and/or VB_SMS_GATEWAY_URL.", file=sys.stderr)
                return 2
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)  # finish the message being sent, then stop
            await sender.run_forever(db.sessionmaker(engine), settings, utcnow, open_channels, stop=stop)
            return 0
    finally:
        await engine.dispose()


def cmd_outbox_worker(args: argparse.Namespace, settings: Settings) -> int:
    overrides = {"outbox_lease_seconds": args.lease, "outbox_poll_seconds": args.poll}
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v})
    return asyncio.run(_outbox_worker(settings))


def _positive(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vbostotte", description="Virtuel Bostøtte. Settings come from VB_* variables."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="Serve the web application.")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--demo", action="store_true", help="Migrate, load demo data if missing, print demo logins.")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="Upgrade the database schema to the latest version.").set_defaults(func=cmd_migrate)
    sub.add_parser("seed-demo", help="Load the demo municipality unless it exists.").set_defaults(func=cmd_seed_demo)
    admin = sub.add_parser("create-admin", help="Create an administrator (password from VB_ADMIN_PASSWORD or prompt).")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)
    admin.add_argument("--municipality", required=True, help="Municipality name; created if it does not exist.")
    admin.set_defaults(func=cmd_create_admin)
    verify = sub.add_parser(
        "verify-audit",
        help="Check the hash chains of the audit log and of consent events "
        "against the keys and the anchors; exit 1 at the first broken "
        "entry.",
    )
    verify.add_argument(
        "--anchors",
        action="append",
        metavar="FILE",
        help="Anchor log or JSON log export to check against (repeatable; default: "
        "audit_anchors.jsonl in the data folder).",
    )
    verify.set_defaults(func=cmd_verify_audit)
    sub.add_parser(
        "rotate-audit-key", help="Start a new audit chain key; the old ones keep verifying older entries."
    ).set_defaults(func=cmd_rotate_audit_key)
    worker = sub.add_parser(
        "outbox-worker",
        help="Only send due reminders and notices (when VB_OUTBOX_WORKER=false keeps the web processes from sending).",
    )
    worker.add_argument("--lease", type=_positive, metavar="SECONDS", help="Override VB_OUTBOX_LEASE_SECONDS.")
    worker.add_argument("--poll", type=_positive, metavar="SECONDS", help="Override VB_OUTBOX_POLL_SECONDS.")
    worker.set_defaults(func=cmd_outbox_worker)
    backup_ = sub.add_parser(
        "backup", help="Back up the database to FILE (SQLite: online backup; PostgreSQL: pg_dump --format=custom)."
    )
    backup_.add_argument("file")
    backup_.set_defaults(func=cmd_backup)
    sub.add_parser(
        "retention", help="Delete data older than its retention (VB_RETENTION_*); audit-logged."
    ).set_defaults(func=cmd_retention)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    logging_setup.configure(settings.log_level, settings.log_format)
    try:
        return args.func(args, settings)
    except db.NotMigrated as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except SettingsError as exc:  # a malformed audit key (VB_AUDIT_KEY, VB_AUDIT_RETIRED_KEYS, audit_keys)
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
