"""Supervisors' pages: their teams, workers and citizens, assigning caseloads, and the review pages
(statistics, session logs, the access log, consent, the pilot export; administrators review the whole
municipality)."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

from aiohttp import web

from vbostotte import access, audit, i18n
from vbostotte.errors import InvalidInput
from vbostotte.i18n import N_, TZ
from vbostotte.i18n import gettext as _
from vbostotte.identity import citizens, organisation
from vbostotte.models import OutboxStatus, StaffRole
from vbostotte.review import audit_review, charts, pilot_export, review, statistics
from vbostotte.web import base, reports
from vbostotte.web.keys import AUDIT_VERIFIED
from vbostotte.web.validation import Form


async def home(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.SUPERVISOR)
    db = base.db(request)
    teams = await organisation.teams_with_members(db, who)
    visible = await citizens.list_visible(db, who)
    return base.render(request, "supervisor/home.html", {"teams": teams, "citizens": visible})


async def assign(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.SUPERVISOR)
    db = base.db(request)
    citizen = await access.citizen_for(db, who, base.object_id(request), "caseload.assign", audit.Purpose.SUPERVISION)
    form = Form(await base.form(request))
    worker_id = form.integer("worker_id")
    form.check()
    await citizens.assign_worker(db, who, citizen, form.checked(worker_id))
    raise base.redirect(request, "citizen_detail", query={"done": "assigned"}, id=citizen.id)


# --- Review: statistics, session logs, the access log, consent, the pilot export --------------------------


def _period(form: Form, today: dt.date) -> statistics.Period:
    """The period asked for: ?period=week|month (the one holding ?day=), or custom ?from= … ?to=."""
    kind = form.choice("period", ("week", "month", "custom")) if "period" in form.data else "month"
    day = form.date("day", required=False) or today
    if kind == "custom":
        first, last = form.date("from"), form.date("to")
        if first and last and not 0 <= (last - first).days < statistics.MAX_DAYS:
            form.errors["to"] = N_("Choose an end date after the start, at most 400 days later.")
        form.check()
        return statistics.Period(form.checked(first), form.checked(last))
    form.check()
    return statistics.Period.week_of(day) if kind == "week" else statistics.Period.month_of(day)


async def _selection(request: web.Request, action: str):
    """Teams in scope, the chosen team and worker, and the period, from the query; a foreign team is a 404."""
    who, db = base.actor(request), base.db(request)
    teams = await review.teams_in_scope(db, who)
    form = Form(request.query)
    team_id = form.integer("team", required=False)
    worker_id = form.integer("worker", required=False)
    period = _period(form, base.now(request).astimezone(TZ).date())
    chosen = [await review.team_in_scope(db, who, team_id, action)] if team_id is not None else teams
    workers = await review.workers_in(db, [t.id for t in chosen])
    if worker_id is not None and worker_id not in {w.id for w in workers}:
        raise InvalidInput({"worker": N_("Choose one of the options.")})
    scope = statistics.Scope(who.known_municipality_id, tuple(t.id for t in chosen), worker_id)
    return {
        "teams": teams,
        "team_id": team_id,
        "workers": workers,
        "worker_id": worker_id,
        "period": period,
        "scope": scope,
        "query": request.query_string,
    }


def _download(body: str, content_type: str, filename: str) -> web.Response:
    response = web.Response(text=body, content_type=content_type, charset="utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@reports.report
async def statistics_page(request: web.Request) -> web.Response:
    """Statistics for the reviewer's teams (or one team, one worker) in a period; ?format=csv downloads them."""
    who, db = base.actor(request), base.db(request)
    review.require_reviewer(who)
    selection = await _selection(request, "statistics.view")
    stats = await review.statistics_for(db, who, selection["scope"], selection["period"], selection["team_id"])
    if request.query.get("format") == "csv":
        period = selection["period"]
        return _download(
            pilot_export.statistics_csv(stats),
            "text/csv",
            f"statistics-{period.first.isoformat()}-{period.last.isoformat()}.csv",
        )
    return base.render(
        request,
        "supervisor/statistics.html",
        {
            **selection,
            "stats": stats,
            "charts": statistics_charts(stats),
            "group_labels": GROUP_LABELS,
            "previous_month": (selection["period"].first.replace(day=1) - dt.timedelta(days=1)).isoformat(),
            "done": request.query.get("done", ""),
        },
    )


def statistics_charts(stats: statistics.Statistics) -> list[charts.BarChart]:
    """The page's two charts: outcomes, and attendance by reminder and confirmation (drawn by supervisor/_charts.html)."""
    t = stats.totals
    outcomes = [
        charts.Bar(_(label), n)
        for label, n in (
            (N_("Held"), t.held),
            (N_("No-shows"), t.no_show),
            (N_("Cancelled"), t.cancelled),
            (N_("Attendance not recorded"), t.unrecorded),
        )
    ]
    groups = [
        charts.Bar(
            _(GROUP_LABELS[(g.reminded, g.confirmed)]),
            None if g.attendance_rate is None else g.attendance_rate * 100,
        )
        for g in stats.reminders
    ]
    number = i18n.format_number
    return [
        charts.bar_chart(
            "chart-outcomes",
            _("Appointments by outcome"),
            outcomes,
            description=_(
                "Held %(held)s, no-shows %(no_show)s, cancelled %(cancelled)s, not recorded %(open)s.",
                held=number(t.held),
                no_show=number(t.no_show),
                cancelled=number(t.cancelled),
                open=number(t.unrecorded),
            ),
        ),
        charts.bar_chart(
            "chart-reminders",
            _("Attendance rate by reminder and confirmation"),
            groups,
            percent=True,
            maximum=100,
        ),
    ]


GROUP_LABELS = {
    (True, True): N_("Reminder sent, confirmed"),
    (True, False): N_("Reminder sent, not confirmed"),
    (False, True): N_("No reminder, confirmed"),
    (False, False): N_("No reminder, not confirmed"),
}


@reports.report
async def pilot_export_file(request: web.Request) -> web.Response:
    """The anonymised aggregate export (?format=json or csv) of the same selection."""
    who, db = base.actor(request), base.db(request)
    review.require_reviewer(who)
    selection = await _selection(request, "statistics.export")
    stats, municipality = await review.pilot_export_for(db, who, selection["scope"], selection["period"])
    name = f"pilot-{stats.period.first.isoformat()}-{stats.period.last.isoformat()}"
    if request.query.get("format") == "json":
        return _download(
            json.dumps(pilot_export.pilot_json(stats, municipality), ensure_ascii=False, indent=1),
            "application/json",
            f"{name}.json",
        )
    return _download(pilot_export.pilot_csv(stats, municipality), "text/csv", f"{name}.csv")


async def travel_minutes(request: web.Request) -> web.Response:
    """Set a team's minutes of driving per home visit (administrator, or the team's supervisor)."""
    who = base.actor(request)
    review.require_reviewer(who)
    form = Form(await base.form(request))
    minutes = form.integer("minutes")
    form.check()
    await review.set_travel_minutes(base.db(request), who, base.object_id(request), form.checked(minutes))
    raise base.redirect(request, "supervisor_statistics", query={"done": "travel"})


async def sessions(request: web.Request) -> web.Response:
    """The teams' appointments in a period, each linking to its session log."""
    who = base.actor(request)
    review.require_reviewer(who)
    selection = await _selection(request, "appointment.list")
    period = selection["period"]
    rows = await review.appointments_in(
        base.db(request), who, list(selection["scope"].team_ids), selection["worker_id"], period.starts, period.ends
    )
    return base.render(request, "supervisor/sessions.html", {**selection, "rows": rows})


async def session_log(request: web.Request) -> web.Response:
    """One appointment's timeline: booked, reminders, answers, the call, attendance, note signed."""
    log = await review.session_log(base.db(request), base.actor(request), base.object_id(request))
    return base.render(
        request, "supervisor/session_log.html", {"log": log, "describe": describe, "ended_labels": ENDED_LABELS}
    )


ENDED_LABELS = {
    "citizen_hung_up": N_("The citizen ended the call"),
    "worker_ended": N_("The worker ended the call"),
    "worker_hung_up": N_("The worker left the call"),
    "network_lost": N_("The connection was lost"),
    "time_over": N_("The call's time was over"),
    "access_ended": N_("A participant's access ended"),
    None: N_("Not known"),
}
WHO = {"worker": N_("The worker"), "citizen": N_("The citizen"), "guest": N_("A guest")}
LEAVE_REASONS = {
    "hung_up": N_("hung up"),
    "network_lost": N_("lost the connection"),
    "ended_by_host": N_("the call was ended"),
    "replaced": N_("joined again from another device"),
    "removed": N_("their access ended"),
    "call_closed": N_("the call's time was over"),
}
NO_REASON = N_("no reason given")
MESSAGE_STATUS = {
    OutboxStatus.SENT: N_("sent"),
    OutboxStatus.FAILED: N_("failed"),
    OutboxStatus.DROPPED: N_("not sent (cancelled or moved)"),
    OutboxStatus.PENDING: N_("waiting to be sent"),
    OutboxStatus.SENDING: N_("being sent"),
}


def describe(e: review.Entry) -> str:
    """One timeline entry in words (the reader's language)."""
    d = e.details
    who = _(WHO.get(d.get("who", ""), WHO["guest"]))
    texts = {
        "booked": lambda: _("Booked by %(by)s", by=d["by"] or _("the system")),
        "changed": lambda: i18n.ngettext(
            "Moved or changed %(num)s time",
            "Moved or changed %(num)s times",
            d["times"],
            num=i18n.format_number(d["times"]),
        ),
        "response_confirmed": lambda: _("The citizen confirmed"),
        "response_cant_come": lambda: _('The citizen answered "I can\'t come"'),
        "cancelled": lambda: _("Cancelled by the citizen") if d["by"] == "citizen" else _("Cancelled by the worker"),
        "interpreter_released": lambda: _("The interpreter was released"),
        "attendance": lambda: _("Attendance recorded: %(what)s", what=i18n.attendance_label(d["attendance"])),
        "message": lambda: _(
            "%(what)s by %(channel)s to the %(recipient)s: %(status)s",
            what=_("Reminder") if d["purpose"] == "reminder" else _("Notice"),
            channel=_("SMS") if d["channel"] == "sms" else _("e-mail"),
            recipient=_("citizen") if d["recipient"] == "citizen" else _("interpreter"),
            status=_(MESSAGE_STATUS.get(d["status"], d["status"])),
        ),
        "note_signed": lambda: _(
            "Session note signed by %(by)s (version %(version)s)", by=d["by"], version=d["version"]
        ),
        "call_joined": lambda: _("%(who)s joined the call", who=who),
        "call_waiting": lambda: _("%(who)s is in the waiting room", who=who),
        "call_admitted": lambda: _(
            "%(who)s was let in by %(by)s after %(waited)s",
            who=who,
            by=d["by"],
            waited=i18n.seconds_text(d["waited_seconds"]),
        ),
        "call_left": lambda: _(
            "%(who)s left: %(reason)s", who=who, reason=_(LEAVE_REASONS.get(d.get("reason", ""), NO_REASON))
        ),
        "call_reconnected": lambda: _("%(who)s reconnected", who=who),
        "call_ended": lambda: _("The worker ended the call"),
        "call_connection_type": lambda: (
            _("%(who)s is connected directly", who=who)
            if d.get("type") == "direct"
            else _("%(who)s is connected through the relay server", who=who)
        ),
    }
    return texts[e.what]() if e.what in texts else e.what


@reports.report
async def access_log(request: web.Request) -> web.Response:
    """The audit log viewer, filtered by citizen, staff member, action and period."""
    who, db = base.actor(request), base.db(request)
    review.require_reviewer(who)
    # first: the verifier walks the log in its own batches (only what is new since the server's last walk)
    chain = await audit_review.chain_status(db, request.app.get(AUDIT_VERIFIED))
    choices = await audit_review.actions(db, who)
    staff = await audit_review.staff_choices(db, who)
    form = Form(request.query)
    citizen_id = form.integer("citizen", required=False)
    staff_id = form.integer("staff", required=False)
    action = form.choice("action", ["", *choices]) if "action" in request.query else ""
    first, last = form.date("from", required=False), form.date("to", required=False)
    denied = form.choice("denied", ("", "1")) if "denied" in request.query else ""
    before = form.integer("before", required=False)
    if staff_id is not None and staff_id not in {s.id for s in staff}:
        form.errors["staff"] = N_("Choose one of the options.")
    form.check()
    wanted = audit_review.Filter(
        citizen_id=citizen_id,
        staff_id=staff_id,
        action=action or None,
        denied_only=denied == "1",
        starts=statistics.Period(first, first).starts if first else None,
        ends=statistics.Period(last, last).ends if last else None,
        before=before,
    )
    if request.query.get("format") == "csv":
        return _download(await audit_review.export_csv(db, who, wanted), "text/csv", "access-log.csv")
    lines = await audit_review.entries(db, who, wanted)
    return base.render(
        request,
        "supervisor/access_log.html",
        {
            "action_label": audit_review.action_label,
            "purpose_label": audit_review.purpose_label,
            "query": request.query_string,
            "chain": chain,
            "lines": lines,
            "actions": sorted(choices, key=audit_review.action_label),  # by their words, as the reader sees them
            "staff": staff,
            "wanted": wanted,
            "first": first,
            "last": last,
            "page_size": audit_review.PAGE_SIZE,
            # The next page, by key: the same filter, entries older than the last one shown.
            "older": _older_page(request, lines),
        },
    )


def _older_page(request: web.Request, lines: list) -> str:
    """The query of the access log's next page (a full page was shown): the same filter, older than its last line."""
    if len(lines) < audit_review.PAGE_SIZE:
        return ""
    kept = [(name, value) for name, value in request.query.items() if name != "before"]
    return urlencode([*kept, ("before", str(lines[-1].entry.id))])


async def consent_overview(request: web.Request) -> web.Response:
    """The teams' citizens whose missing or withdrawn consents affect their appointments."""
    who, db = base.actor(request), base.db(request)
    review.require_reviewer(who)
    teams = await review.teams_in_scope(db, who)
    gaps = await review.consent_gaps(db, who, [t.id for t in teams], base.now(request))
    return base.render(
        request,
        "supervisor/consent.html",
        {"gaps": gaps, "consent_labels": CONSENT_LABELS, "team_names": {t.id: t.name for t in teams}},
    )


CONSENT_LABELS = {
    "video": N_("Video sessions"),
    "sms_reminders": N_("SMS reminders"),
    "email_reminders": N_("E-mail reminders"),
}
