"""What reminders and interpreters' notices say, in the recipient's language.

Discreet by design. A citizen's reminder says only what kind of meeting, when, and where to read more
(the citizen's page, ``/me`` — never the personal link's token); it names neither the municipality's
services nor anything about the citizen, not even their name, because a phone's lock screen shows it.
An interpreter's notice is plain fact: what, when, which language, and the worker's first name — the
citizen is "the citizen". Interpreters read Danish. For a video session the invitation, its reminder, the
"moved" notice and a new link's notice carry the interpreter's one-call guest link (``services.guests``);
nothing else about the call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from vbostotte import i18n
from vbostotte.i18n import N_

INTERPRETER_LOCALE = "da"

KINDS = {"video": N_("video session"), "home_visit": N_("visit")}
TODAY = N_("today at %(time)s")
TOMORROW = N_("tomorrow at %(time)s")

REMINDER = N_("Reminder: %(what)s %(when)s")
REMINDER_SMS = N_("Reminder: %(what)s %(when)s. See your page: %(link)s")
REMINDER_DETAILS = N_("See the details on your page:")
REMINDER_CANT_COME = N_("If you cannot come, you can say so on your page.")
AUTOMATIC = N_("This message was sent automatically. Replies are not read.")
# A day-plan task's reminder: the citizen's own words for the task (they wrote them, or agreed them with
# their worker), the time, and their page; nothing about the service.
DAY_TASK = N_("Reminder from your day plan: %(task)s")
DAY_TASK_SMS = N_("Reminder from your day plan (%(time)s): %(task)s. Your page: %(link)s")
DAY_TASK_DONE = N_("You can tick it off on your page:")

# "Call now": the worker calls at once. As discreet as a reminder: no name, no service, the citizen's page.
CALL_NOW = N_("Your video session is starting now")
CALL_NOW_SMS = N_("Your video session is starting now. Go in from your page: %(link)s")
CALL_NOW_DETAILS = N_("Go in from your page:")

# purpose → (e-mail subject, the notice itself: the SMS text and the e-mail's first paragraph)
INTERPRETER_NOTICES = {
    "interpreter_invite": (
        N_("Interpreting booked %(when)s"),
        N_("Interpreting booked (%(language)s): %(what)s %(when)s, %(duration)s. Contact: %(worker)s."),
    ),
    "interpreter_moved": (
        N_("Interpreting moved to %(when)s"),
        N_("Interpreting moved (%(language)s): the %(what)s is now %(when)s, %(duration)s. Contact: %(worker)s."),
    ),
    "interpreter_cancelled": (
        N_("Interpreting cancelled %(when)s"),
        N_("Interpreting cancelled (%(language)s): the %(what)s %(when)s will not take place. Contact: %(worker)s."),
    ),
    "interpreter_cant_come": (
        N_("Interpreting cancelled %(when)s"),
        N_(
            "Interpreting cancelled (%(language)s): the citizen cannot come to the %(what)s %(when)s. "
            "Contact: %(worker)s."
        ),
    ),
    "interpreter_released": (
        N_("Interpreting no longer needed %(when)s"),
        N_("You are released from the interpreting (%(language)s) for the %(what)s %(when)s. Contact: %(worker)s."),
    ),
    "interpreter_reminder": (
        N_("Reminder: interpreting %(when)s"),
        N_("Reminder of the interpreting (%(language)s): %(what)s %(when)s, %(duration)s. Contact: %(worker)s."),
    ),
    "interpreter_new_link": (
        N_("New link for the interpreting %(when)s"),
        N_(
            "New link for the interpreting (%(language)s): %(what)s %(when)s. The earlier link no longer works. "
            "Contact: %(worker)s."
        ),
    ),
}
# The notices that carry the guest link of a video session (the others say it will not take place).
WITH_CALL_LINK = ("interpreter_invite", "interpreter_moved", "interpreter_reminder", "interpreter_new_link")
CALL_LINK = N_(
    "Join the video session from this link. It opens %(duration)s before the start, and %(worker)s lets you in:"
)
CALL_LINK_SMS = N_("Link to the video session: %(link)s")


@dataclass(frozen=True)
class Text:
    """One message in one language: e-mail subject and body, and the SMS text."""

    subject: str
    body: str
    short: str
    locale: str


@contextmanager
def speaking(locale: str) -> Iterator[str]:
    """Translate in ``locale`` inside the block (the sender runs outside any request)."""
    token = i18n.set_locale(locale)
    try:
        yield i18n.get_locale()
    finally:
        i18n.reset_locale(token)


def when_relative(moment: dt.datetime, now: dt.datetime) -> str:
    """'i dag kl. 10.00' / 'i morgen kl. 10.00' in Copenhagen time, else 'tirsdag 3. december kl. 10.00'."""
    day, today = i18n.local(moment).date(), i18n.local(now).date()
    if day == today:
        return i18n.gettext(TODAY, time=i18n.format_clock(moment))
    if day == today + dt.timedelta(days=1):
        return i18n.gettext(TOMORROW, time=i18n.format_clock(moment))
    return i18n.format_when(moment)


def _kind(kind: str) -> str:
    return i18n.gettext(KINDS.get(kind, KINDS["video"]))


def citizen_page(base_url: str) -> str:
    return base_url.rstrip("/") + "/me"


def reminder(*, kind: str, starts_at: dt.datetime, locale: str, base_url: str, now: dt.datetime) -> Text:
    """A citizen's reminder of a coming appointment."""
    with speaking(locale) as spoken:
        link = citizen_page(base_url)
        what, when = _kind(kind), when_relative(starts_at, now)
        subject = i18n.gettext(REMINDER, what=what, when=when)
        body = "\n\n".join(
            [
                subject + ".",
                f"{i18n.gettext(REMINDER_DETAILS)}\n{link}",
                i18n.gettext(REMINDER_CANT_COME),
                i18n.gettext(AUTOMATIC),
            ]
        )
        short = i18n.gettext(REMINDER_SMS, what=what, when=when, link=link)
        return Text(subject=i18n.upfirst(subject), body=body + "\n", short=short, locale=spoken)


def interpreter_notice(
    purpose: str,
    *,
    kind: str,
    starts_at: dt.datetime,
    minutes: int,
    language: str,
    worker_name: str,
    call_link: str | None = None,
    opens_minutes: int = 15,
) -> Text:
    """A notice to the appointment's interpreter (``purpose`` is one of ``INTERPRETER_NOTICES``), with the
    video session's guest link when ``call_link`` is given (``opens_minutes``: how early the call opens)."""
    subject_id, text_id = INTERPRETER_NOTICES[purpose]
    with speaking(INTERPRETER_LOCALE) as spoken:
        # The full date, not "tomorrow": interpreters keep these notices as a record of the booking.
        params = dict(
            what=_kind(kind),
            when=i18n.format_when(starts_at),
            duration=i18n.minutes_text(minutes),  # "45 minutter", "1 minut": Babel, in the notice's language
            language=language,
            worker=first_name(worker_name),
        )
        subject = i18n.upfirst(i18n.gettext(subject_id, **params))
        text = i18n.upfirst(i18n.gettext(text_id, **params))
        paragraphs, short = [text], text
        if call_link:
            how = i18n.gettext(CALL_LINK, duration=i18n.minutes_text(opens_minutes), worker=params["worker"])
            paragraphs.append(f"{how}\n{call_link}")
            short = f"{text} {i18n.gettext(CALL_LINK_SMS, link=call_link)}"
        paragraphs.append(i18n.gettext(AUTOMATIC))
        return Text(subject=subject, body="\n\n".join(paragraphs) + "\n", short=short, locale=spoken)


def first_name(name: str) -> str:
    return name.split()[0] if name.strip() else ""


def day_task_reminder(*, title: str, remind_at: dt.datetime, locale: str, base_url: str) -> Text:
    """A citizen's reminder of a task on their day plan."""
    with speaking(locale) as spoken:
        link = citizen_page(base_url)
        subject = i18n.gettext(DAY_TASK, task=title)
        body = "\n\n".join(
            [
                f"{subject}, {i18n.gettext(TODAY, time=i18n.format_clock(remind_at))}.",
                f"{i18n.gettext(DAY_TASK_DONE)}\n{link}",
                i18n.gettext(AUTOMATIC),
            ]
        )
        short = i18n.gettext(DAY_TASK_SMS, task=title, time=i18n.format_clock(remind_at), link=link)
        return Text(subject=subject, body=body + "\n", short=short, locale=spoken)


def call_now(*, locale: str, base_url: str) -> Text:
    """The citizen's notice that their worker is calling now (an unscheduled video session)."""
    with speaking(locale) as spoken:
        link = citizen_page(base_url)
        subject = i18n.gettext(CALL_NOW)
        body = "\n\n".join([subject + ".", f"{i18n.gettext(CALL_NOW_DETAILS)}\n{link}", i18n.gettext(AUTOMATIC)])
        short = i18n.gettext(CALL_NOW_SMS, link=link)
        return Text(subject=subject, body=body + "\n", short=short, locale=spoken)
