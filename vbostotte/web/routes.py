"""Every URL, declared once and by name; templates and redirects use the names."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from vbostotte.booking.views import appointments, calendars
from vbostotte.calls.views import call_now as call_now_views
from vbostotte.calls.views import calls, connection_test
from vbostotte.calls.views import guests as guest_views
from vbostotte.calls.views import waiting as waiting_views
from vbostotte.care.views import caseworker_export as caseworker_views
from vbostotte.care.views import checkins as checkin_views
from vbostotte.care.views import goals as goal_views
from vbostotte.care.views import notes as note_views
from vbostotte.identity.views import account, admin, auth, sso, staff
from vbostotte.identity.views import photo as photo_views
from vbostotte.privacy.views import consent as consent_views
from vbostotte.privacy.views import data_export as export_views
from vbostotte.review.views import supervisor
from vbostotte.web import api, citizen, health

ID = r"{id:[0-9]{1,12}}"  # ASCII digits: \d would also match "٣"


def setup_routes(app: web.Application, static_dir: Path) -> None:
    r = app.router
    r.add_get("/", auth.index, name="index")
    r.add_route("*", "/login", auth.login, name="login")
    r.add_route("*", "/login/code", auth.login_code, name="login_code")
    r.add_route("*", "/login/enrol", auth.login_enrol, name="login_enrol")
    r.add_post("/logout", auth.logout, name="logout")
    # Staff: the municipality's own login (OpenID). A municipality's number, public (the login page lists them).
    r.add_get("/login/sso/{municipality:[0-9]{1,9}}", sso.start, name="sso_start")
    r.add_get("/login/sso/callback", sso.callback, name="sso_callback")
    r.add_get("/login/sso/logged-out", sso.logged_out, name="sso_logged_out")
    r.add_post("/language", auth.set_language, name="language")
    r.add_get("/l/{token}", auth.open_link, name="personal_link")

    r.add_get("/me", citizen.home, name="citizen_home")
    # The start page's menu: a short page for each thing (their forms post to the routes further down).
    r.add_get("/me/appointments", citizen.appointments_page, name="citizen_appointments")
    r.add_get("/me/wellbeing", citizen.checkin_page, name="citizen_checkin")
    r.add_get("/me/day", citizen.day_page, name="citizen_day")
    r.add_get("/me/goals", citizen.goals_page, name="citizen_goals")
    r.add_get("/me/notes", citizen.notes_page, name="citizen_notes")
    r.add_get("/me/contact", citizen.contact_page, name="citizen_contact")
    r.add_get("/me/consents", citizen.consents_page, name="citizen_consents")
    r.add_post(f"/me/appointments/{ID}/respond", appointments.respond, name="appointment_respond")
    # Between appointments: the start page's poll for a call that has opened, and "I'd like to talk to you".
    r.add_get("/me/call", call_now_views.citizen_call, name="citizen_call_now")
    r.add_post("/me/talk", call_now_views.ask, name="citizen_talk")

    r.add_get("/worker", staff.worker_home, name="worker_home")
    # Who waits in the worker's open calls (JSON, asked for every few seconds by every staff page of a worker).
    r.add_get("/worker/waiting", waiting_views.waiting_now, name="worker_waiting")
    r.add_route("*", "/citizens/new", staff.citizen_new, name="citizen_new")
    r.add_get(f"/citizens/{ID}", staff.citizen_detail, name="citizen_detail")
    r.add_post(f"/citizens/{ID}/link", staff.link_issue, name="link_issue")
    r.add_post(f"/citizens/{ID}/link/revoke", staff.link_revoke, name="link_revoke")
    r.add_post(f"/citizens/{ID}/call-privacy", staff.call_privacy, name="citizen_call_privacy")
    r.add_post(f"/citizens/{ID}/call-now", call_now_views.start, name="citizen_call_now_start")

    r.add_route("*", "/worker/hours", appointments.working_hours, name="working_hours")
    r.add_route("*", "/worker/absences", appointments.absences, name="absences")
    r.add_post(f"/worker/absences/{ID}/remove", appointments.absence_remove, name="absence_remove")
    r.add_route("*", "/appointments/new", appointments.new, name="appointment_new")
    r.add_get(f"/appointments/{ID}", appointments.show, name="appointment")
    r.add_post(f"/appointments/{ID}/cancel", appointments.cancel, name="appointment_cancel")
    r.add_post(f"/appointments/{ID}/reschedule", appointments.reschedule, name="appointment_reschedule")
    r.add_post(f"/appointments/{ID}/attendance", appointments.attendance, name="appointment_attendance")
    r.add_post(f"/appointments/{ID}/release-interpreter", appointments.release_interpreter, name="appointment_release")

    r.add_get("/supervisor", supervisor.home, name="supervisor_home")
    r.add_post(f"/citizens/{ID}/assign", supervisor.assign, name="citizen_assign")
    # Review (supervisors: their teams; administrators: the municipality's aggregates and access log).
    r.add_get("/supervisor/statistics", supervisor.statistics_page, name="supervisor_statistics")
    r.add_get("/supervisor/export", supervisor.pilot_export_file, name="pilot_export")
    r.add_post(f"/supervisor/teams/{ID}/travel", supervisor.travel_minutes, name="team_travel_minutes")
    r.add_get("/supervisor/sessions", supervisor.sessions, name="supervisor_sessions")
    r.add_get(f"/supervisor/appointments/{ID}/log", supervisor.session_log, name="session_log")
    r.add_get("/supervisor/access-log", supervisor.access_log, name="access_review")
    r.add_get("/supervisor/consent", supervisor.consent_overview, name="consent_overview")

    r.add_get("/admin", admin.home, name="admin_home")
    r.add_route("*", "/admin/staff/new", admin.staff_new, name="admin_staff_new")
    r.add_route("*", "/admin/settings", admin.booking_settings, name="admin_settings")
    r.add_route("*", "/admin/sso", sso.admin_settings, name="admin_sso")
    r.add_post(f"/admin/staff/{ID}/active", admin.staff_active, name="admin_staff_active")
    r.add_post("/admin/teams", admin.team_new, name="admin_team_new")
    r.add_post(f"/admin/teams/{ID}/members", admin.team_member, name="admin_team_member")
    r.add_post(f"/admin/teams/{ID}/phone", admin.team_phone, name="admin_team_phone")

    # Calendars (iCalendar files). The feed has no session: calendar apps cannot log in, so its
    # token is the key (hashed in the database, masked in the access log, revocable).
    r.add_get(f"/appointments/{ID}.ics", calendars.staff_download, name="appointment_calendar")
    r.add_get(f"/me/appointments/{ID}.ics", calendars.citizen_download, name="citizen_appointment_calendar")
    r.add_get("/calendar/{token:[A-Za-z0-9_-]{20,100}}.ics", calendars.feed, name="calendar_feed")
    r.add_post("/worker/calendar-feed", calendars.feed_create, name="calendar_feed_create")
    r.add_post("/worker/calendar-feed/revoke", calendars.feed_revoke, name="calendar_feed_revoke")

    # A staff member's own API keys (for municipal systems calling the JSON API with a bearer token).
    r.add_route("*", "/account/api-keys", account.api_keys, name="account_api_keys")
    r.add_post(f"/account/api-keys/{ID}/revoke", account.api_key_revoke, name="account_api_key_revoke")
    # A staff member's own photo (shown to their citizens in the call's waiting room), and the photo itself: never
    # public, only for those identity/photos.py names (a guest through their link's address).
    r.add_route("*", "/account/photo", photo_views.page, name="account_photo")
    r.add_post("/account/photo/remove", photo_views.remove, name="account_photo_remove")
    r.add_get(f"/staff/{ID}/photo", photo_views.show, name="staff_photo")

    # The JSON API (documented by /api/openapi.json, generated from web/api.py's OPERATIONS).
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
    # One-call guest links (interpreter, relative): the worker makes or stops them; the guest's page and ticket
    # are reached by the link's token alone (hashed in the database, masked in the access log).
    r.add_post(f"/calls/{ID}/guests", guest_views.create, name="guest_link_create")
    r.add_post(f"/calls/{ID}/guests/revoke", guest_views.revoke, name="guest_link_revoke")
    r.add_get("/g/{token:[A-Za-z0-9_-]{20,100}}", guest_views.page, name="guest_call")
    r.add_post("/g/{token:[A-Za-z0-9_-]{20,100}}/ticket", guest_views.ticket, name="guest_ticket")
    r.add_get("/g/{token:[A-Za-z0-9_-]{20,100}}/photo", guest_views.worker_photo, name="guest_worker_photo")

    # The connection test: the page, and its offer answered by a server-side echo peer (JSON under /api/, so
    # the CSRF middleware takes the token from the X-CSRF-Token header).
    r.add_get("/connection-test", connection_test.page, name="connection_test")
    r.add_post("/api/v1/connection-test/offer", connection_test.offer, name="api_connection_test")

    # Consent: the citizen's one tap, the worker's record of a verbal consent, the administrator's kinds.
    r.add_post("/me/consents", consent_views.citizen_change, name="citizen_consent")
    r.add_post(f"/citizens/{ID}/consents", consent_views.worker_record, name="citizen_consent_record")
    r.add_route("*", "/admin/consents", consent_views.admin_kinds, name="admin_consents")
    r.add_route("*", f"/admin/consents/{ID}", consent_views.admin_kind, name="admin_consent_kind")

    # Session notes (drafts autosave through the JSON endpoint; a signed version is final) and goals.
    r.add_get(f"/appointments/{ID}/note", note_views.appointment_note, name="appointment_note")
    r.add_post(f"/citizens/{ID}/notes", note_views.note_new, name="note_new")
    r.add_get(f"/notes/{ID}", note_views.show, name="note")
    r.add_post(f"/notes/{ID}", note_views.save, name="note_save")
    r.add_post(f"/notes/{ID}/sign", note_views.sign, name="note_sign")
    r.add_post(f"/notes/{ID}/amend", note_views.amend, name="note_amend")
    r.add_post(f"/api/v1/notes/{ID}/draft", note_views.api_draft, name="api_note_draft")
    r.add_post(f"/citizens/{ID}/goals", goal_views.goal_new, name="goal_new")
    r.add_get(f"/goals/{ID}", goal_views.show, name="goal")
    r.add_post(f"/goals/{ID}", goal_views.edit, name="goal_edit")
    r.add_post(f"/goals/{ID}/steps", goal_views.step_new, name="goal_step_new")
    r.add_post(f"/goals/steps/{ID}/tick", goal_views.step_tick, name="goal_step_tick")
    r.add_post(f"/me/steps/{ID}/tick", goal_views.citizen_step_tick, name="citizen_step_tick")

    # Wellbeing check-ins and the day plan (the worker's side only with the citizen's consent), and the
    # citizen's own data: a printable page and a JSON download, for the citizen or by a worker on their behalf.
    r.add_post("/me/checkins", checkin_views.check_in, name="checkin_create")
    r.add_post("/me/day-plan", checkin_views.task_add, name="day_task_add")
    r.add_post(f"/me/day-plan/{ID}/done", checkin_views.task_done, name="day_task_done")
    r.add_post(f"/me/day-plan/{ID}/remove", checkin_views.task_remove, name="day_task_remove")
    r.add_post("/me/day-plan/grade", checkin_views.grade, name="day_grade")
    r.add_post(f"/citizens/{ID}/day-plan", checkin_views.worker_task_add, name="citizen_day_task_add")
    r.add_post(f"/citizens/{ID}/checkins/followed-up", checkin_views.followed_up, name="citizen_checkins_followed_up")
    r.add_get("/me/data", export_views.own_page, name="data_export")
    r.add_get("/me/data.json", export_views.own_json, name="data_export_json")
    r.add_get(f"/citizens/{ID}/data", export_views.citizen_page, name="citizen_data_export")
    r.add_get(f"/citizens/{ID}/data.json", export_views.citizen_json, name="citizen_data_export_json")
    r.add_get(f"/citizens/{ID}/caseworker-summary", caseworker_views.page, name="caseworker_summary")

    r.add_get("/healthz", health.healthz, name="healthz")
    r.add_get("/readyz", health.readyz, name="readyz")
    r.add_get("/metrics", health.metrics_page, name="metrics")
    r.add_static("/static/", static_dir, name="static", append_version=True)
