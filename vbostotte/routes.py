"""Every URL, declared once and by name; templates and redirects use the names."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from vbostotte.views import (admin, api, appointments, auth, calendars, calls, citizen, connection_test, health, staff,
                             supervisor)

ID = r"{id:[0-9]{1,12}}"  # ASCII digits: \d would also match "٣"


def setup_routes(app: web.Application, static_dir: Path) -> None:
    r = app.router
    r.add_get("/", auth.index, name="index")
    r.add_route("*", "/login", auth.login, name="login")
    r.add_route("*", "/login/code", auth.login_code, name="login_code")
    r.add_route("*", "/login/enrol", auth.login_enrol, name="login_enrol")
    r.add_post("/logout", auth.logout, name="logout")
    r.add_post("/language", auth.set_language, name="language")
    r.add_get("/l/{token}", auth.open_link, name="personal_link")

    r.add_get("/me", citizen.home, name="citizen_home")
    r.add_post(f"/me/appointments/{ID}/respond", appointments.respond, name="appointment_respond")

    r.add_get("/worker", staff.worker_home, name="worker_home")
    r.add_route("*", "/citizens/new", staff.citizen_new, name="citizen_new")
    r.add_get(f"/citizens/{ID}", staff.citizen_detail, name="citizen_detail")
    r.add_post(f"/citizens/{ID}/link", staff.link_issue, name="link_issue")
    r.add_post(f"/citizens/{ID}/link/revoke", staff.link_revoke, name="link_revoke")
    r.add_post(f"/citizens/{ID}/reminders", staff.reminder_channels, name="citizen_reminders")
    r.add_post(f"/citizens/{ID}/call-privacy", staff.call_privacy, name="citizen_call_privacy")

    r.add_route("*", "/worker/hours", appointments.working_hours, name="working_hours")
    r.add_route("*", "/worker/absences", appointments.absences, name="absences")
    r.add_post(f"/worker/absences/{ID}/remove", appointments.absence_remove, name="absence_remove")
    r.add_route("*", "/appointments/new", appointments.new, name="appointment_new")
    r.add_get(f"/appointments/{ID}", appointments.show, name="appointment")
    r.add_post(f"/appointments/{ID}/cancel", appointments.cancel, name="appointment_cancel")
    r.add_post(f"/appointments/{ID}/reschedule", appointments.reschedule, name="appointment_reschedule")
    r.add_post(f"/appointments/{ID}/attendance", appointments.attendance, name="appointment_attendance")
    r.add_post(f"/appointments/{ID}/release-interpreter", appointments.release_interpreter,
               name="appointment_release")

    r.add_get("/supervisor", supervisor.home, name="supervisor_home")
    r.add_post(f"/citizens/{ID}/assign", supervisor.assign, name="citizen_assign")

    r.add_get("/admin", admin.home, name="admin_home")
    r.add_route("*", "/admin/staff/new", admin.staff_new, name="admin_staff_new")
    r.add_route("*", "/admin/settings", admin.booking_settings, name="admin_settings")
    r.add_post(f"/admin/staff/{ID}/active", admin.staff_active, name="admin_staff_active")
    r.add_post("/admin/teams", admin.team_new, name="admin_team_new")
    r.add_post(f"/admin/teams/{ID}/members", admin.team_member, name="admin_team_member")

    # Calendars (iCalendar files). The feed has no session: calendar apps cannot log in, so its
    # token is the key (hashed in the database, masked in the access log, revocable).
    r.add_get(f"/appointments/{ID}.ics", calendars.staff_download, name="appointment_calendar")
    r.add_get(f"/me/appointments/{ID}.ics", calendars.citizen_download, name="citizen_appointment_calendar")
    r.add_get("/calendar/{token:[A-Za-z0-9_-]{20,100}}.ics", calendars.feed, name="calendar_feed")
    r.add_post("/worker/calendar-feed", calendars.feed_create, name="calendar_feed_create")
    r.add_post("/worker/calendar-feed/revoke", calendars.feed_revoke, name="calendar_feed_revoke")

    # The JSON API (documented by /api/openapi.json, generated from views/api.py's OPERATIONS).
    r.add_get("/api/openapi.json", api.openapi_document, name="api_openapi")
    r.add_get("/api/v1/session", api.session, name="api_session")
    r.add_get("/api/v1/appointments", api.list_appointments, name="api_appointments")
    r.add_post("/api/v1/appointments", api.create_appointment, name="api_appointment_create")
    r.add_get(f"/api/v1/appointments/{ID}", api.get_appointment, name="api_appointment")
    r.add_post(f"/api/v1/appointments/{ID}/cancel", api.cancel_appointment, name="api_appointment_cancel")
    r.add_get("/api/v1/availability", api.free_slots, name="api_availability")

    # Video calls: a join ticket (JSON, CSRF-checked POST), then the signalling WebSocket.
    r.add_get(f"/calls/{ID}", calls.page, name="call")
    r.add_post(f"/calls/{ID}/ticket", calls.ticket, name="call_ticket")
    r.add_get(calls.SOCKET_PATH, calls.socket, name="call_socket")

    # The connection test: the page, and its offer answered by a server-side echo peer (JSON under /api/, so
    # the CSRF middleware takes the token from the X-CSRF-Token header).
    r.add_get("/connection-test", connection_test.page, name="connection_test")
    r.add_post("/api/v1/connection-test/offer", connection_test.offer, name="api_connection_test")

    r.add_get("/healthz", health.healthz, name="healthz")
    r.add_static("/static/", static_dir, name="static", append_version=True)
