"""Every audit action code in plain words: what the access log shows a supervisor ("Saw the citizen's page",
"Så borgerens side") instead of the code (``citizen.view``). The code stays in the entry and in the access log's
CSV export. A test reads the source for action codes and fails when one has no wording here.

The wording is a sentence without a subject: the log's "Who" column says who did it.
"""

from __future__ import annotations

from vbostotte.i18n import N_, gettext

ACTIONS: dict[str, str] = {
    # Signing in and accounts
    "auth.login": N_("Signed in"),
    "auth.logout": N_("Signed out"),
    "auth.mfa_enrol": N_("Set up their two-step login"),
    "auth.oidc_login": N_("Signed in through the municipality's login"),
    "auth.oidc_created": N_("Got a staff account at the first login through the municipality's login"),
    "admin.oidc_settings": N_("Changed the settings of the municipality's login"),
    "api_token.create": N_("Created an API key"),
    "api_token.revoke": N_("Revoked an API key"),
    "staff.create": N_("Created a staff account"),
    "staff.activate": N_("Reactivated a staff account"),
    "staff.deactivate": N_("Deactivated a staff account"),
    "staff.photo_set": N_("Added or changed their own photo"),
    "staff.photo_remove": N_("Removed their own photo"),
    "staff.photo_read": N_("Tried to see a staff member's photo"),
    "team.create": N_("Created a team"),
    "team.add_member": N_("Added a member to a team"),
    "team.phone": N_("Changed the team's phone number"),
    "team.travel_minutes": N_("Changed the team's minutes per home visit"),
    "municipality.settings": N_("Changed the municipality's settings"),
    # Citizens
    "citizen.create": N_("Registered a citizen"),
    "citizen.list": N_("Saw the list of citizens"),
    "citizen.view": N_("Saw the citizen's page"),
    "citizen.call_privacy": N_("Changed how the citizen's calls connect"),
    "caseload.assign": N_("Changed who has the citizen on their caseload"),
    "link.issue": N_("Made a personal link for the citizen"),
    "link.revoke": N_("Revoked the citizen's personal link"),
    "link.open": N_("Opened the personal link"),
    # Appointments and calendars
    "appointment.list": N_("Saw a list of appointments"),
    "appointment.view": N_("Saw an appointment"),
    "appointment.create": N_("Booked an appointment"),
    "appointment.reschedule": N_("Moved an appointment"),
    "appointment.cancel": N_("Cancelled an appointment"),
    "appointment.respond": N_("Answered an appointment"),
    "appointment.attendance": N_("Recorded attendance"),
    "appointment.release_interpreter": N_("Released the interpreter"),
    "appointment.session_log": N_("Saw the session log"),
    "appointment.calendar": N_("Downloaded an appointment to a calendar"),
    "appointment.calendar_feed": N_("A calendar app read the calendar feed"),
    "calendar_feed.create": N_("Created a calendar feed"),
    "calendar_feed.revoke": N_("Revoked a calendar feed"),
    "availability.update": N_("Changed working hours"),
    "availability.absence": N_("Registered an absence"),
    "availability.absence_removed": N_("Removed an absence"),
    # Video calls
    "call.page": N_("Opened the video call page"),
    "call.join": N_("Was given a ticket to join the video call"),  # asked for as the call page opens
    "call.waiting": N_("Saw who is waiting to be let in"),
    "call.guest_join": N_("Joined the video call as a guest"),
    "appointment.call_now": N_("Started a video call at once (call now)"),
    "call_request.create": N_("Asked for a call"),
    "call_request.shown": N_("Saw that the citizen asked for a call"),
    "call_request.answer": N_("Answered the citizen's request for a call"),
    "guest_link.create": N_("Made a guest link for a call"),
    "guest_link.revoke": N_("Revoked a guest link"),
    # Notes, goals, check-ins and the day plan
    "note.create": N_("Started a session note"),
    "note.open": N_("Opened the appointment's session note"),
    "note.view": N_("Read a session note"),
    "note.save": N_("Saved a session note"),
    "note.autosave": N_("A session note was saved automatically"),
    "note.sign": N_("Signed a session note"),
    "note.amend": N_("Amended a signed session note"),
    "note.shared_view": N_("Read the notes shared with the citizen"),
    "goal.create": N_("Created a goal"),
    "goal.view": N_("Saw a goal"),
    "goal.edit": N_("Changed a goal"),
    "goal.step_add": N_("Added a step to a goal"),
    "goal.step_tick": N_("Ticked off a step of a goal"),
    "checkin.create": N_("Answered how the day is going"),
    "checkin.view": N_("Saw the citizen's check-ins"),
    "checkin.attention": N_("Saw check-ins that need attention"),
    "checkin.follow_up": N_("Marked a check-in as followed up"),
    "day_plan.view": N_("Saw the citizen's day plan"),
    "day_task.create": N_("Added a task to the day plan"),
    "day_task.done": N_("Ticked off a task on the day plan"),
    "day_task.undone": N_("Unticked a task on the day plan"),
    "day_task.remove": N_("Removed a task from the day plan"),
    "day_grade.set": N_("Graded the day"),
    # Consent, data and review
    "consent.list": N_("Saw the citizen's consents"),
    "consent.record": N_("Recorded the citizen's consent"),
    "consent.overview": N_("Saw the consent overview"),
    "consent_kind.create": N_("Created a kind of consent"),
    "consent_kind.new_version": N_("Made a new version of a consent text"),
    "data_export.html": N_("Saw a copy of everything held about the citizen"),
    "data_export.json": N_("Downloaded everything held about the citizen"),
    "caseworker_export.html": N_("Made a summary for the citizen's caseworker"),
    "statistics.view": N_("Saw the statistics"),
    "statistics.export": N_("Downloaded the statistics"),
    "audit.view": N_("Saw the access log"),
    "audit.export": N_("Downloaded the access log"),
    "retention.run": N_("Deleted data past its keeping time"),
}

PURPOSES: dict[str, str] = {
    "support": N_("Support work"),
    "caseload_overview": N_("Caseload overview"),
    "supervision": N_("Supervision"),
    "self_service": N_("The citizen's own use"),
    "administration": N_("Administration of the service"),
    "authentication": N_("Signing in"),
    "wellbeing_follow_up": N_("Wellbeing follow-up"),
    "data_access": N_("The citizen's right of access"),
    "caseworker_sharing": N_("Sharing with the caseworker"),
}


def describe(action: str) -> str:
    """The action in plain words in the current language; an unknown code is shown as it is."""
    return gettext(ACTIONS[action]) if action in ACTIONS else action


def purpose_label(purpose: str) -> str:
    return gettext(PURPOSES[purpose]) if purpose in PURPOSES else purpose
