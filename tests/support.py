"""Test support: services a test needs that the app does not (required services, a clock, a world of data,
a client that fills in CSRF tokens the way a browser would), data several tests arrange alike (a call about to
start, a held session, due reminders), and the app's commands: run in this process, or as real `vbostotte serve`
and `vbostotte outbox-worker` processes."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import os
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import aiohttp
import pyotp
import pytest
from sqlalchemy import func, select

from vbostotte import cli
from vbostotte.actors import Actor
from vbostotte.config import load_settings
from vbostotte.identity import api_tokens, citizens, links, organisation, sessions
from vbostotte.models import (
    ApiToken,
    Appointment,
    AppointmentKind,
    AvailabilityException,
    Base,
    CallEvent,
    Citizen,
    ConsentKind,
    MunicipalitySettings,
    OutboxMessage,
    Staff,
    StaffRole,
    Team,
    TeamMember,
)
from vbostotte.privacy import consent
from vbostotte.reminders import outbox
from vbostotte.web import security
from vbostotte.web.keys import SETTINGS

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PASSWORD = "correct horse battery staple"


def require(available: bool, what: str) -> None:
    """Fail in CI, skip locally with a clear message, when a required service or browser is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available here (it is required in CI)")


def port_open(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vbostotte_command(env: dict[str, str], command: str, *args: str) -> tuple[int, str]:
    """`vbostotte <command> <args>` in this process, with the settings a process started with the environment plus
    ``env`` would read: the command line parsed and the command's own function called, as ``vbostotte``'s main does,
    in a thread (the command runs its own event loop). Its exit code and what it printed (standard output and error
    together). For tests of what a command does; that it starts as a program of its own is tested with a real
    process."""
    parsed = cli.build_parser().parse_args([command, *args])
    settings = load_settings({**os.environ, **env})
    printed = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            return parsed.func(parsed, settings)

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(run).result(), printed.getvalue()


class Clock:
    """A clock tests can move forward. Starts at a fixed Copenhagen winter Monday 08:00 local time."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)

    @classmethod
    def monday_of(cls, day: dt.date) -> Clock:
        """A clock at 08:00 Copenhagen time on the Monday of ``day``'s week (the shape of the default start, on
        another day: for tests that prove a result does not depend on the app's clock)."""
        monday = day - dt.timedelta(days=day.weekday())
        local = dt.datetime.combine(monday, dt.time(8, 0), tzinfo=ZoneInfo("Europe/Copenhagen"))
        return cls(local.astimezone(dt.UTC))


@dataclass
class StaffInfo:
    id: int
    email: str
    name: str
    role: StaffRole
    totp_secret: str
    municipality_id: int

    last_step: int | None = field(default=None, compare=False)  # the last step a code was made for

    def code(self, clock: Clock) -> str:
        """The code the authenticator shows now; if that step's code was already handed out (a second login at
        the same moment of the test's clock), the next step's, as a phone a little ahead would show: the app
        takes each code once (identity/login.py) and allows one step of drift."""
        totp = pyotp.TOTP(self.totp_secret)
        step = totp.timecode(clock())
        if self.last_step is not None and self.last_step >= step:
            step = self.last_step + 1
        self.last_step = step
        return totp.generate_otp(step)

    @property
    def actor(self) -> Actor:
        return Actor(
            kind="staff", id=self.id, municipality_id=self.municipality_id, role=self.role.value, name=self.name
        )


@dataclass
class CitizenInfo:
    id: int
    name: str
    preferred_name: str
    link_token: str
    municipality_id: int
    appointment_id: int = 0  # a video session tomorrow with their worker
    past_appointment_id: int = 0  # a home visit yesterday


@dataclass
class Municipality:
    id: int
    admin: StaffInfo
    supervisor: StaffInfo
    worker: StaffInfo
    other_worker: StaffInfo
    citizen: CitizenInfo  # on worker's caseload
    other_citizen: CitizenInfo  # on other_worker's caseload
    team_id: int
    absence_id: int = 0  # the worker's summer holiday, July 2027
    api_token_id: int = 0  # the worker's API key (the key itself is not kept)
    goal_id: int = 0  # the citizen's goal "Gå en tur hver dag", with two steps (step_id is the first)
    step_id: int = 0
    note_id: int = 0  # the worker's draft note after the citizen's past home visit
    signed_note_id: int = 0  # the worker's signed note about the citizen (not shared)
    day_task_id: int = 0  # "Køb ind" on the citizen's day plan today, no reminder
    consent_kind_id: int = 0  # the built-in "video" consent kind of the municipality


@dataclass
class World:
    a: Municipality
    b: Municipality
    extra: dict = field(default_factory=dict)


async def build_municipality(db, label: str, now: dt.datetime) -> Municipality:
    """One municipality with an admin, a supervisor, two workers in one team, and two citizens."""
    municipality = await organisation.get_or_create_municipality(db, f"{label} Kommune", now)
    system = Actor(kind="system", role="system", municipality_id=municipality.id)
    team = Team(municipality_id=municipality.id, name=f"Team {label}")
    db.add(team)
    await db.flush()
    staff = {}
    for key, role in (
        ("admin", StaffRole.ADMIN),
        ("supervisor", StaffRole.SUPERVISOR),
        ("worker", StaffRole.WORKER),
        ("other_worker", StaffRole.WORKER),
    ):
        email = f"{key.replace('_', '-')}@{label.lower()}.example.dk"
        member = await organisation.create_staff(
            db,
            system,
            municipality.id,
            email=email,
            name=f"{key.title()} {label}",
            role=role,
            password=PASSWORD,
            now=now,
        )
        member.totp_secret = pyotp.random_base32()
        if role != StaffRole.ADMIN:
            db.add(TeamMember(team_id=team.id, staff_id=member.id))
        staff[key] = StaffInfo(member.id, email, member.name, role, member.totp_secret, municipality.id)
    await db.flush()
    people = {}
    for key, worker_key in (("citizen", "worker"), ("other_citizen", "other_worker")):
        name = f"{key.title()} {label}"
        citizen = await citizens.register(
            db,
            system,
            citizens.NewCitizen(name=name, preferred_name=key.title()),
            now,
            team_id=team.id,
            worker_id=staff[worker_key].id,
        )
        worker_actor = staff[worker_key].actor
        token = await links.issue(db, worker_actor, citizen, now)
        if key == "citizen":  # every built-in consent, recorded by their worker; other_citizen has none
            for kind in consent.Kind:
                await consent.give(db, worker_actor, citizen.id, kind, "in_person", now)
        appointment = Appointment(
            municipality_id=municipality.id,
            citizen_id=citizen.id,
            worker_id=staff[worker_key].id,
            kind=AppointmentKind.VIDEO,
            starts_at=now + dt.timedelta(days=1),
            ends_at=now + dt.timedelta(days=1, minutes=45),
            note_to_citizen=f"Agenda for {name}",
            created_at=now,
            response="none",
        )
        past = Appointment(
            municipality_id=municipality.id,
            citizen_id=citizen.id,
            worker_id=staff[worker_key].id,
            kind=AppointmentKind.HOME_VISIT,
            starts_at=now - dt.timedelta(days=1),
            ends_at=now - dt.timedelta(days=1, minutes=-45),
            created_at=now,
            response="none",
        )
        db.add_all([appointment, past])
        await db.flush()
        people[key] = CitizenInfo(citizen.id, name, key.title(), token, municipality.id, appointment.id, past.id)
    holiday = AvailabilityException(
        staff_id=staff["worker"].id,
        reason="holiday",
        starts_at=dt.datetime(2027, 6, 30, 22, tzinfo=dt.UTC),
        ends_at=dt.datetime(2027, 7, 14, 22, tzinfo=dt.UTC),
    )
    db.add(holiday)
    await api_tokens.create(db, staff["worker"].actor, "Case system", 90, now)
    api_token_id = (await db.execute(select(ApiToken.id).where(ApiToken.staff_id == staff["worker"].id))).scalar_one()
    await db.flush()
    writing = await notes_and_goals(db, municipality.id, team.id, staff["worker"].id, people["citizen"], now)
    writing["day_task_id"] = await a_day_task(db, municipality.id, people["citizen"], now)
    writing["consent_kind_id"] = (
        await db.execute(
            select(ConsentKind.id).where(
                ConsentKind.municipality_id == municipality.id, ConsentKind.code == consent.Kind.VIDEO.value
            )
        )
    ).scalar_one()
    return Municipality(
        id=municipality.id,
        team_id=team.id,
        absence_id=holiday.id,
        api_token_id=api_token_id,
        **writing,
        **staff,
        **people,
    )


async def notes_and_goals(
    db, municipality_id: int, team_id: int, worker_id: int, citizen: CitizenInfo, now: dt.datetime
) -> dict[str, int]:
    """A goal with two steps, a draft note and a signed note for the citizen, by their worker."""
    from vbostotte.models import Goal, GoalStatus, GoalStep, Note, NoteStatus, NoteVersion

    goal = Goal(
        municipality_id=municipality_id,
        citizen_id=citizen.id,
        title="Gå en tur hver dag",
        status=GoalStatus.NOT_STARTED,
        created_by_id=worker_id,
        created_at=now,
    )
    db.add(goal)
    await db.flush()
    steps = [
        GoalStep(goal_id=goal.id, position=n, text=text)
        for n, text in enumerate(("Gå til postkassen", "Gå rundt om søen"), 1)
    ]
    draft = Note(
        municipality_id=municipality_id,
        citizen_id=citizen.id,
        appointment_id=citizen.past_appointment_id,
        author_id=worker_id,
        team_id=team_id,
        created_at=now,
    )
    signed = Note(
        municipality_id=municipality_id, citizen_id=citizen.id, author_id=worker_id, team_id=team_id, created_at=now
    )
    db.add_all([*steps, draft, signed])
    await db.flush()
    db.add_all(
        [
            NoteVersion(
                note_id=draft.id,
                number=1,
                talked_about="Udkast om ugen",
                status=NoteStatus.DRAFT,
                created_at=now,
                updated_at=now,
            ),
            NoteVersion(
                note_id=signed.id,
                number=1,
                talked_about="Vi talte om at sove bedre",
                agreements="Sluk skærmen kl. 22",
                status=NoteStatus.SIGNED,
                created_at=now,
                updated_at=now,
                signed_at=now,
                signed_by_id=worker_id,
            ),
        ]
    )
    await db.flush()
    return {"goal_id": goal.id, "step_id": steps[0].id, "note_id": draft.id, "signed_note_id": signed.id}


async def a_day_task(db, municipality_id: int, citizen: CitizenInfo, now: dt.datetime) -> int:
    """A task on the citizen's day plan for today (Copenhagen date), put there by the citizen, no reminder."""
    from vbostotte.care.checkins import local_day
    from vbostotte.models import DayTask

    task = DayTask(
        municipality_id=municipality_id,
        citizen_id=citizen.id,
        day=local_day(now),
        title="Køb ind",
        created_by="citizen",
        created_at=now,
    )
    db.add(task)
    await db.flush()
    return task.id


async def add_staff(db, world, key: str, role: StaffRole, team_id: int, now) -> StaffInfo:
    """One more staff member of municipality a, in ``team_id``, who can log in (the world's password)."""
    system = Actor(kind="system", role="system", municipality_id=world.a.id)
    email = f"{key}@aarhus.example.dk"
    member = await organisation.create_staff(
        db, system, world.a.id, email=email, name=key.replace("-", " ").title(), role=role, password=PASSWORD, now=now
    )
    member.totp_secret = pyotp.random_base32()
    db.add(TeamMember(team_id=team_id, staff_id=member.id))
    await db.flush()
    return StaffInfo(member.id, email, member.name, role, member.totp_secret, world.a.id)


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class WebClient:
    """Drives the app like a browser: keeps cookies, reads the CSRF token from the page it posts from."""

    def __init__(self, client, clock: Clock) -> None:
        self.client = client
        self.clock = clock

    @property
    def origin(self) -> str:
        """The origin our pages have in a browser: the app's public address (VB_BASE_URL), which is what the Origin
        allow-list holds, not the test server's own port. A server at a real address (tests/multiprocess) is
        started with that address as its VB_BASE_URL."""
        server = getattr(self.client, "server", None)  # aiohttp's TestClient
        if server is not None:
            return security.base_origin(server.app[SETTINGS])
        return str(self.client.make_url("/")).rstrip("/")

    async def get(self, path: str, **kw):
        return await self.client.get(path, allow_redirects=kw.pop("allow_redirects", False), **kw)

    async def page(self, path: str) -> str:
        response = await self.client.get(path)
        assert response.status == 200, (path, response.status)
        return await response.text()

    async def csrf_from(self, path: str) -> str:
        return unescape(CSRF_RE.search(await self.page(path)).group(1))

    async def post(self, path: str, data: dict | None = None, *, from_page: str | None = None, **kw):
        """POST a form with the CSRF token of ``from_page`` (default: the same path)."""
        data = dict(data or {})
        data.setdefault("csrf_token", await self.csrf_from(from_page or path))
        # A browser sends the page's origin with every form post; so do we, so the Origin check is exercised.
        headers = {"Origin": self.origin, **kw.pop("headers", {})}
        return await self.client.post(
            path, data=data, headers=headers, allow_redirects=kw.pop("allow_redirects", False), **kw
        )

    async def login(self, staff: StaffInfo, *, password: str = PASSWORD, code: str | None = None):
        """Password, then the TOTP code; returns the final response (a redirect to the home page on success)."""
        response = await self.post("/login", {"email": staff.email, "password": password})
        if response.status != 303 or not response.headers["Location"].endswith(("/login/code", "/login/enrol")):
            return response
        step = response.headers["Location"]
        return await self.post(step, {"code": code or staff.code(self.clock)})

    async def open_link(self, token: str):
        return await self.get(f"/l/{token}")


def text_of(html: str) -> str:
    """The visible text of a page's main content, whitespace folded (for asserting what a person reads)."""
    main = html.split("<main", 1)[-1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", main))).strip()


async def reread(db) -> None:
    """Forget what the test's session knows, so the next read sees what the app committed."""
    await db.rollback()
    db.expire_all()


async def row_counts(db, without: tuple[str, ...] = ()) -> dict[str, int]:
    """Rows in every table but ``without``, as the app committed them: one query (a count of each table)."""
    await reread(db)
    tables = [table for table in Base.metadata.sorted_tables if table.name not in without]
    query = select(*(select(func.count()).select_from(table).scalar_subquery() for table in tables))
    return dict(zip((table.name for table in tables), (await db.execute(query)).one(), strict=True))


def read_in_english(*browsers: WebClient) -> None:
    """Choose English, as the language switch would: the messages tests quote are the English ones."""
    for browser in browsers:
        browser.client.session.cookie_jar.update_cookies({"vb_lang": "en"})


async def build_world(engine, clock: Clock, password_hash: str, monkeypatch) -> World:
    """The two municipalities every test works in. Every account has the same password, hashed once per run
    (a real argon2id hash) rather than eight times a test."""
    from vbostotte import db as database

    monkeypatch.setattr(organisation, "hash_password", lambda password: password_hash)
    async with database.sessionmaker(engine)() as session, session.begin():
        a = await build_municipality(session, "Aarhus", clock())
        b = await build_municipality(session, "Randers", clock())
    return World(a=a, b=b)


async def session_hash(db, actor: Actor, settings, now: dt.datetime) -> str:
    """A signed-in web session of ``actor`` (what a call ticket is asked for from): its hash."""
    if actor.kind == "staff":
        token = await sessions.start_staff_session(db, actor.id, settings, now, mfa_passed=True)
    else:
        token = await sessions.start_citizen_session(db, actor.id, None, settings, now)
    return sessions.token_hash(token)


async def video_call_soon(db, world: World, clock: Clock) -> int:
    """A video session of world.a's worker with their citizen, starting in five minutes (its call is open)."""
    starts = clock() + dt.timedelta(minutes=5)
    appointment = Appointment(
        municipality_id=world.a.id,
        citizen_id=world.a.citizen.id,
        worker_id=world.a.worker.id,
        kind=AppointmentKind.VIDEO,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=45),
        created_at=clock(),
        response="none",
    )
    db.add(appointment)
    await db.commit()
    return appointment.id


async def call_ticket(web: WebClient, appointment_id: int, page: str) -> str:
    """A ticket for the appointment's call, asked for from ``page`` as that page's script does."""
    token = await web.csrf_from(page)
    response = await web.client.post(f"/calls/{appointment_id}/ticket", headers={"X-CSRF-Token": token})
    assert response.status == 200, (response.status, await response.text())
    return (await response.json())["ticket"]


async def plan_due_reminders(db, world: World, count: int, now: dt.datetime) -> None:
    """``count`` appointments in the coming hours, each with one e-mail reminder due now (a week's notice,
    planned eight days ago), for a worker of their own so no other appointment is in the way."""
    municipality = world.a.id
    await db.merge(
        MunicipalitySettings(
            municipality_id=municipality,
            reminder_offsets_minutes="10080",
            confirm_cutoff_minutes=180,
            crisis_line_text="",
        )
    )
    await consent.withdraw(db, world.a.worker.actor, world.a.citizen.id, consent.Kind.SMS_REMINDERS, "phone", now)
    (await db.get(Citizen, world.a.citizen.id)).email = "borger@example.dk"
    worker = Staff(
        municipality_id=municipality,
        email="reminder-test@aarhus.example.dk",
        name="Kim Test",
        role=StaffRole.WORKER,
        password_hash="-",
        active=True,
        created_at=now,
    )
    db.add(worker)
    await db.flush()
    first = now.replace(second=0, microsecond=0) + dt.timedelta(hours=2)
    for i in range(count):
        starts = first + dt.timedelta(minutes=30 * i)
        appointment = Appointment(
            municipality_id=municipality,
            citizen_id=world.a.citizen.id,
            worker_id=worker.id,
            kind=AppointmentKind.VIDEO,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=15),
            created_at=now,
            response="none",
        )
        db.add(appointment)
        await db.flush()
        await outbox.plan_for_appointment(db, appointment, now - dt.timedelta(days=8))
    await db.commit()


def outbox_worker_env(database_url: str, data_dir: Path, smtp_port: int) -> dict[str, str]:
    """The environment of a `vbostotte outbox-worker` process sending e-mail to the test's SMTP server."""
    return {
        **os.environ,
        "VB_DATABASE_URL": database_url,
        "VB_DATA_DIR": str(data_dir),
        "VB_LOG_LEVEL": "INFO",
        "VB_SMTP_HOST": "127.0.0.1",
        "VB_SMTP_PORT": str(smtp_port),
        "VB_SMS_GATEWAY_URL": "",
        "VB_BASE_URL": "http://127.0.0.1",
    }


def start_outbox_worker(env: dict[str, str], log, lease_seconds: int) -> subprocess.Popen:
    """A real `vbostotte outbox-worker` process (polling every second), its output to ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "vbostotte", "outbox-worker", "--lease", str(lease_seconds), "--poll", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


SERVE_SECRET = "served-secret-key-not-for-production-0123456789"  # one key for all: CSRF tokens work on every process


def serve_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `vbostotte serve` process of a test: its database and data folder, JSON logs, no mail
    or SMS, each process's own address (serve --port sets it), and the embedded default (no Redis) unless ``extra``
    gives VB_REDIS_URL."""
    env = {
        **os.environ,
        "VB_DATABASE_URL": database_url,
        "VB_SECRET_KEY": SERVE_SECRET,
        "VB_DATA_DIR": str(data_dir),
        "VB_LOG_FORMAT": "json",
        "VB_LOG_LEVEL": "INFO",
        "VB_SMTP_HOST": "",
        "VB_SMS_GATEWAY_URL": "",
    }
    for name in ("VB_BASE_URL", "VB_REDIS_URL"):
        env.pop(name, None)
    return {**env, **extra}


class ServerProcess:
    """One `vbostotte serve` OS process on its own port; its log (JSON lines) goes to a file. It can be stopped
    (a signal) and started again on the same port."""

    START_TIMEOUT = 30.0

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name, self.port = name, free_port()
        self.env = {**env, "VB_PORT": str(self.port)}
        self.log_path = log_dir / f"server-{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def start(self, session: aiohttp.ClientSession) -> None:
        """Start the process and wait until it answers /readyz."""
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vbostotte", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            async with asyncio.timeout(self.START_TIMEOUT):
                while True:
                    if self.process.poll() is not None:
                        raise AssertionError(f"server {self.name} exited ({self.process.returncode}):\n{self.log()}")
                    try:
                        async with session.get(f"{self.url}/readyz") as response:
                            if response.status == 200:
                                return
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"server {self.name} not ready in time:\n{self.log()}") from None

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def exited(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        async with asyncio.timeout(timeout):
            while self.process.poll() is None:
                await asyncio.sleep(0.02)
        return self.process.returncode

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


async def a_held_video_session(db, world, clock) -> int:
    """Yesterday's video session of world.a's citizen: reminded by SMS, confirmed, held (65 seconds in the waiting
    room, through the relay, 30.1 minutes long), the citizen hung up."""
    a = world.a
    starts = clock() - dt.timedelta(days=1, hours=-2)
    appointment = Appointment(
        municipality_id=a.id,
        citizen_id=a.citizen.id,
        worker_id=a.worker.id,
        kind="video",
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=45),
        created_at=clock(),
        created_by_id=a.worker.id,
        response="confirmed",
        responded_at=starts - dt.timedelta(hours=5),
        attendance="attended",
    )
    db.add(appointment)
    await db.flush()
    db.add(
        OutboxMessage(
            municipality_id=a.id,
            appointment_id=appointment.id,
            purpose="reminder",
            channel="sms",
            recipient_kind="citizen",
            dedupe_key=f"r{appointment.id}",
            due_at=starts - dt.timedelta(days=1),
            status="sent",
            attempts=1,
            next_attempt_at=starts,
            sent_at=starts - dt.timedelta(days=1),
            created_at=clock(),
        )
    )
    staff, citizen = f"staff-{a.worker.id}", f"citizen-{a.citizen.id}"
    for seconds, who, role, event, details in [
        (0, staff, "host", "joined", {"waited": False}),
        (30, citizen, "guest", "waiting", {}),
        (95, citizen, "guest", "admitted", {"by": staff, "waited_seconds": 65.0}),
        (100, citizen, "guest", "connection_type", {"type": "relayed"}),
        (1900, citizen, "guest", "left", {"reason": "hung_up"}),
    ]:
        db.add(
            CallEvent(
                appointment_id=appointment.id,
                at=starts + dt.timedelta(seconds=seconds),
                participant=who,
                role=role,
                event=event,
                details=details,
            )
        )
    await db.commit()
    return appointment.id
