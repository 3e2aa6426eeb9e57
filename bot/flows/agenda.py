"""The agenda in chat: `/agenda` for everyone, the RSVP buttons under reminders, and for the
coordinator: add a meeting series or a deadline, cancel or move one occurrence, mark a deadline done,
move it or cancel it.

Two tables drive it. `ACTIONS` maps the coordinator's buttons and words that start or finish
something (new meeting, cancel this one, ...) to a handler. `AgendaChat.steps` is the wizard: one
question at a time (buttons where there are few answers, typed text for titles, dates and names), a
preview, and nothing saved before Opslaan; every question has a Stoppen button. Dates are typed the
Dutch way ("dinsdag 12 januari 14:00") and read by `intents.dates`. The changes themselves are
`jobs.changes`, the same as the CLI's.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import select

from bot.actions import Agenda, Rsvp
from bot.broadcasts import AUDIENCE_NAMES
from bot.floor.clock import LOCAL_TZ, parse_duration
from bot.floor.errors import WijkbotError
from bot.floor.messages import Button
from bot.floor.models import User
from bot.floor.texts import say, words
from bot.flows import Flow, Invalid, Option, Reply, Step, Turn
from intents.dates import DateNotUnderstood, parse_date, parse_when
from intents.triage import Dialogue
from jobs.agenda import Occurrence, occurrence_at, parse_stamp, upcoming
from jobs.changes import (
    add_deadline,
    add_series,
    cancel_deadline,
    cancel_occurrence,
    deadline_done,
    move_deadline,
    move_occurrence,
)
from jobs.models import Deadline, MeetingSeries
from jobs.participants import UnknownParticipants, resolve, split_entries
from jobs.reminders import dutch_day, dutch_when, rsvp_buttons
from jobs.rsvp import record, tally

REMIND_CHOICES = {
    "meeting_default": ["7d", "1d", "2h"],
    "meeting_day": ["1d"],
    "deadline_default": ["30d", "14d", "7d", "1d"],
    "deadline_week": ["7d", "1d"],
    "none": [],
}
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
VISIBLE_TO_RESIDENTS = ("residents", "all")
MENU = ("new_meeting", "new_deadline", "cancel_meeting", "move_meeting", "deadline_change")
WORDS = {
    "nieuw": "new_meeting",
    "overleg": "new_meeting",
    "deadline": "new_deadline",
    "afzeggen": "cancel_meeting",
    "verplaatsen": "move_meeting",
    "klaar": "deadline_done",
    "wijzigen": "deadline_change",
}
DURATIONS = (30, 60, 90, 120)
PICK_DAYS = 90
PICK_MAX = 8
MAX_DURATION_MINUTES = 24 * 60  # a meeting lasts at most a day
LEAD_UNITS = {"m": "minutes", "h": "hours", "u": "hours", "d": "days", "w": "weeks"}


def short_when(when: datetime) -> str:
    local = when.astimezone(LOCAL_TZ)
    return (
        f"{words('calendar.days_short')[local.weekday()]} {local.day} "
        f"{words('calendar.months_short')[local.month - 1]} {local:%H.%M}"
    )


def duration_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return say("agenda.minutes", count=rest)
    return say("agenda.hours", count=hours) if not rest else say("agenda.hours_minutes", hours=hours, minutes=rest)


def remind_text(leads: list[str]) -> str:
    if not leads:
        return say("agenda.no_reminder")
    parts = []
    for lead in leads:
        number, unit = lead[:-1].removesuffix("mi"), lead[-1].lower()
        if unit in LEAD_UNITS and number.isdigit():
            parts.append(f"{number} {words(f'agenda.unit_{LEAD_UNITS[unit]}')[int(number) != 1]}")
        else:
            parts.append(lead)
    return say("agenda.before", leads=", ".join(parts))


def day_text(day: date) -> str:
    return f"{dutch_day(day)} {day.year}"


def _occurrence(turn: Turn, ref: str) -> tuple[MeetingSeries, Occurrence] | None:
    try:
        series_id, stamp = ref.split(":")
        series = turn.session.get(MeetingSeries, int(series_id))
        original = parse_stamp(stamp)
    except ValueError:
        return None
    occurrence = occurrence_at(turn.session, series, original) if series else None
    return (series, occurrence) if occurrence else None


class AgendaChat:
    def __init__(self, dialogue: Dialogue):
        self.t = dialogue.texts
        self.b = dialogue.buttons
        self.flow = Flow(
            "agenda",
            self._steps(),
            self.t,
            value=lambda action, code: ":".join(["agenda", action, *([code] if code else [])]),
            last=lambda turn: [self._stop()],
            use_buttons=self.t["agenda_use_buttons"],
        )
        # the buttons and words that start or finish something, whatever question is open
        self.actions: dict[str, Callable[[Turn, str], list[Reply]]] = {
            "stop": self._stopped,
            "new_meeting": self._new_meeting,
            "new_deadline": self._new_deadline,
            "cancel_meeting": lambda turn, arg: self._pick(turn, "cancel"),
            "move_meeting": lambda turn, arg: self._pick(turn, "move"),
            "deadline_done": self._deadline_done,
            "deadline_change": self._deadline_change,
            "deadline_pick": self._deadline_pick,
            "deadline_move": self._deadline_move,
            "deadline_cancel": self._deadline_cancel,
            "deadline_do_cancel": self._deadline_do_cancel,
            "pick_cancel": self._pick_cancel,
            "pick_move": self._pick_move,
            "do_cancel": self._do_cancel,
        }

    # --- the wizard's table ------------------------------------------------------------------------

    def _steps(self) -> dict[str, Step]:
        b = self.b
        meeting_reminders = [
            Option(c, b[f"remind_{c}"], REMIND_CHOICES[c]) for c in ("meeting_default", "meeting_day", "none")
        ]
        deadline_reminders = [
            Option(c, b[f"remind_{c}"], REMIND_CHOICES[c]) for c in ("deadline_default", "deadline_week", "none")
        ]
        return {
            # a meeting series
            "title": Step("agenda_ask_title", then="when", store="title", typed=lambda turn, text: text[:300]),
            "when": Step(
                "agenda_ask_when",
                then="repeat",
                store=lambda d, when: d.update(start=when.replace(tzinfo=None).isoformat(timespec="minutes")),
                typed=self._when,
            ),
            "repeat": Step(
                "agenda_ask_repeat",
                then="duration",
                store=lambda d, v: d.update(rrule=v[0], repeat=v[1]),
                options=self._repeat_options,
            ),
            "duration": Step(
                "agenda_ask_duration",
                then="location",
                store="duration",
                typed=self._duration,
                options=lambda turn: [Option(str(m), b[f"duration_{m}"], m) for m in DURATIONS],
            ),
            "location": Step(
                "agenda_ask_location",
                then="audience",
                store="location",
                typed=lambda turn, text: text[:300],
                options=lambda turn: [Option("", b["no_location"], None)],
            ),
            "audience": Step(
                "agenda_ask_audience",
                then=lambda turn: "participants" if turn.draft["audience"] == "professionals" else "remind",
                store="audience",
                options=lambda turn: [Option(k, name, k) for k, name in AUDIENCE_NAMES.items()],
            ),
            "participants": Step(
                "agenda_ask_participants",
                then="remind",
                store="participants",
                typed=self._participants,
                options=lambda turn: [Option("", b["everyone_professional"], [])],
            ),
            "remind": Step(
                "agenda_ask_remind",
                then="confirm",
                store="remind",
                typed=self._leads,
                options=lambda turn: meeting_reminders,
            ),
            # a deadline
            "dl_title": Step("agenda_ask_dl_title", then="dl_due", store="title", typed=lambda turn, text: text[:300]),
            "dl_due": Step(
                "agenda_ask_dl_due",
                then="dl_remind",
                store=lambda d, due: d.update(due=due.isoformat()),
                typed=self._due,
            ),
            "dl_remind": Step(
                "agenda_ask_remind",
                then="owners",
                store="remind",
                typed=self._leads,
                options=lambda turn: deadline_reminders,
                button="remind",
            ),
            "owners": Step(
                "agenda_ask_owners",
                then="confirm",
                store="owners",
                typed=lambda turn, text: text[:300],
                options=lambda turn: [Option("", b["skip"], None)],
            ),
            "confirm": Step(
                self._preview, then=self._save, options=lambda turn: [Option("", b["agenda_save"])], button="save"
            ),
            # moving one occurrence of a meeting, or a deadline
            "move_to": Step(
                "agenda_ask_move_to",
                then=lambda turn: "confirm_move" if _occurrence(turn, turn.draft.get("ref", "")) else self._gone(turn),
                store=lambda d, when: d.update(to=when.isoformat()),
                typed=self._when,
            ),
            "confirm_move": Step(
                self._confirm_move,
                then=self._do_move,
                button="do_move",
                options=lambda turn: [Option("", b["agenda_yes_move"])],
            ),
            "dl_move_to": Step(
                "agenda_ask_dl_move_to",
                then=lambda turn: (
                    "confirm_dl_move" if self._open_deadline(turn, str(turn.draft.get("id", ""))) else self._gone(turn)
                ),
                store=lambda d, due: d.update(due=due.isoformat()),
                typed=self._due,
            ),
            "confirm_dl_move": Step(
                self._confirm_dl_move,
                then=self._deadline_do_move,
                button="deadline_do_move",
                options=lambda turn: [Option("", b["agenda_yes_move"])],
            ),
        }

    # --- for everyone ------------------------------------------------------------------------------

    def listing(self, session, user: User, now: datetime) -> list[Reply]:
        """What is coming in the next 30 days that this user may see; tallies for the coordinator."""
        audiences = dict(session.execute(select(MeetingSeries.id, MeetingSeries.audience)).all())
        items = [
            i
            for i in upcoming(session, now, 30)
            if user.at_least("professional")
            or (i.kind == "meeting" and audiences.get(i.series_id) in VISIBLE_TO_RESIDENTS)
        ]
        lines = [self.t["agenda_intro"] if items else self.t["agenda_empty"]]
        for item in items[:15]:
            when = item.start.astimezone(LOCAL_TZ)
            if item.kind == "meeting":
                where = say("agenda.where", location=item.location) if item.location else ""
                lines.append(
                    say("agenda.line_meeting", day=dutch_day(when), time=f"{when:%H.%M}", title=item.title, where=where)
                )
                counts = tally(session, item) if user.at_least("coordinator") else None
                if counts and (counts.asked or counts.yes or counts.no or counts.maybe):
                    lines.append(self.t["agenda_tally"].format(**counts.as_json()))
            else:
                lines.append(say("agenda.line_deadline", day=dutch_day(when), title=item.title))
        if not user.at_least("coordinator"):
            return [("\n".join(lines), [])]
        lines += ["", self.t["agenda_coordinator"]]
        return [("\n".join(lines), [Button(label=self.b[f"agenda_{a}"], value=f"agenda:{a}") for a in MENU])]

    def rsvp(self, session, pressed: Rsvp, user: User, now: datetime) -> list[Reply]:
        result = record(session, user, pressed.value, now)
        if result.outcome != "recorded":
            return [(self.t.get(f"rsvp_{result.outcome}", self.t["rsvp_unknown"]), [])]
        occurrence = result.occurrence
        text = self.t[f"rsvp_{pressed.answer}"].format(
            title=occurrence.title, when=dutch_when(occurrence.start.astimezone(LOCAL_TZ))
        )
        return [(text, [Button(**b) for b in rsvp_buttons(occurrence)])]

    # --- the coordinator ---------------------------------------------------------------------------

    def command(self, turn: Turn, rest: str) -> list[Reply]:
        """`/agenda [nieuw|deadline|afzeggen|verplaatsen|wijzigen|klaar]`; the agenda itself without a word."""
        word = rest.strip().lower()
        if not word:
            return self.listing(turn.session, turn.user, turn.now)
        if not turn.user.at_least("coordinator"):
            return [(self.t["coordinator_only"], [])]
        if word not in WORDS:  # an unknown word: the agenda and the coordinator's buttons
            return self.listing(turn.session, turn.user, turn.now)
        return self.pressed(turn, Agenda(kind="agenda", action=WORDS[word]))

    def pressed(self, turn: Turn, pressed: Agenda) -> list[Reply]:
        """A button `agenda:<action>[:<argument>]`, parsed and bounded by bot.actions."""
        if not turn.user.at_least("coordinator"):
            return [(self.t["coordinator_only"], [])]
        handler = self.actions.get(pressed.action)
        if handler is not None:
            return handler(turn, pressed.arg)
        return self.flow.pressed(turn, pressed.action, pressed.arg) or [(self.t["agenda_gone"], [])]

    def typed(self, turn: Turn, text: str) -> list[Reply]:
        """A typed answer to the coordinator's current agenda question."""
        if not turn.user.at_least("coordinator"):
            turn.state.reset()
            return [(self.t["coordinator_only"], [])]
        return self.flow.typed(turn, text) or self._stopped(turn, "")

    # --- reading typed answers (Invalid: the question again, with why) -----------------------------

    def _when(self, turn: Turn, text: str) -> datetime:
        try:
            when = parse_when(text, turn.now, LOCAL_TZ)
        except DateNotUnderstood as exc:
            raise Invalid(self.t["agenda_bad_when"].format(reason=exc)) from None
        if when <= turn.now:
            raise Invalid(self.t["agenda_past"])
        return when

    def _due(self, turn: Turn, text: str) -> date:
        today = turn.now.astimezone(LOCAL_TZ).date()
        try:
            due = parse_date(text, today)
        except DateNotUnderstood as exc:
            raise Invalid(self.t["agenda_bad_date"].format(reason=exc)) from None
        if due < today:
            raise Invalid(self.t["agenda_past"])
        return due

    def _duration(self, turn: Turn, text: str) -> int:
        try:
            minutes = int(parse_duration(text.replace(" ", "")).total_seconds() // 60)
        except ValueError:
            minutes = 0
        if not 0 < minutes <= MAX_DURATION_MINUTES:
            raise Invalid(self.t["agenda_bad_duration"])
        return minutes

    def _participants(self, turn: Turn, text: str) -> list[str]:
        entries = split_entries(text)
        try:
            resolve(turn.session, entries)
        except UnknownParticipants as exc:
            raise Invalid(self._unknown(exc)) from None
        return entries

    def _leads(self, turn: Turn, text: str) -> list[str]:
        leads = [x.strip().replace(" ", "") for x in text.replace(";", ",").split(",") if x.strip()]
        try:
            for lead in leads:
                parse_duration(lead)
        except ValueError:
            raise Invalid(self.t["agenda_bad_remind"]) from None
        return leads

    # --- questions made from the draft ---------------------------------------------------------------

    def _preview(self, turn: Turn) -> str:
        draft = turn.draft
        if draft["kind"] == "deadline":
            return self.t["agenda_preview_deadline"].format(
                title=draft["title"],
                due=day_text(date.fromisoformat(draft["due"])),
                owners=draft.get("owners") or "-",
                remind=remind_text(draft["remind"]),
            )
        start = datetime.fromisoformat(draft["start"]).replace(tzinfo=LOCAL_TZ)
        participants = f" ({'; '.join(draft['participants'])})" if draft.get("participants") else ""
        return self.t["agenda_preview_meeting"].format(
            title=draft["title"],
            when=say("agenda.starts", day=dutch_day(start), year=start.year, time=f"{start:%H.%M}"),
            repeat=draft["repeat"].lower(),
            duration=duration_text(draft["duration"]),
            location=draft.get("location") or "-",
            audience=AUDIENCE_NAMES[draft["audience"]] + participants,
            remind=remind_text(draft["remind"]),
        )

    def _repeat_options(self, turn: Turn) -> list[Option]:
        """The ways a meeting starting then can repeat; the value is (RRULE, label)."""
        start = datetime.fromisoformat(turn.draft["start"])
        day_name = words("calendar.days")[start.weekday()]
        code = RRULE_DAYS[start.weekday()]
        nth = (start.day - 1) // 7 + 1
        last = start.day + 7 > calendar.monthrange(start.year, start.month)[1]
        b = self.b
        rules = [
            ("once", "FREQ=DAILY;COUNT=1", b["repeat_once"]),
            ("weekly", f"FREQ=WEEKLY;BYDAY={code}", b["repeat_weekly"].format(day=day_name)),
            ("biweekly", f"FREQ=WEEKLY;INTERVAL=2;BYDAY={code}", b["repeat_biweekly"].format(day=day_name)),
        ]
        ordinals = words("agenda.ordinals")
        if nth <= len(ordinals):
            rules.append(
                (
                    "monthly",
                    f"FREQ=MONTHLY;BYDAY={nth}{code}",
                    b["repeat_monthly"].format(nth=ordinals[nth - 1], day=day_name),
                )
            )
        if last:
            rules.append(
                ("monthly_last", f"FREQ=MONTHLY;BYDAY=-1{code}", b["repeat_monthly_last"].format(day=day_name))
            )
        return [Option(c, label, (rule, label)) for c, rule, label in rules]

    def _confirm_move(self, turn: Turn) -> str:
        found = _occurrence(turn, turn.draft.get("ref", ""))
        if found is None:
            return self.t["agenda_gone"]
        return self.t["agenda_confirm_move"].format(
            title=found[0].title,
            before=dutch_when(found[1].start.astimezone(LOCAL_TZ)),
            after=dutch_when(datetime.fromisoformat(turn.draft["to"]).astimezone(LOCAL_TZ)),
        )

    def _confirm_dl_move(self, turn: Turn) -> str:
        deadline = turn.session.get(Deadline, turn.draft.get("id", 0))
        if deadline is None or deadline.done_at is not None:
            return self.t["agenda_gone"]
        return self.t["agenda_confirm_dl_move"].format(
            title=deadline.title, before=day_text(deadline.due), after=day_text(date.fromisoformat(turn.draft["due"]))
        )

    # --- the actions ---------------------------------------------------------------------------------

    def _gone(self, turn: Turn) -> list[Reply]:
        turn.state.reset()
        return [(self.t["agenda_gone"], [])]

    def _stopped(self, turn: Turn, arg: str) -> list[Reply]:
        turn.state.reset()
        return [(self.t["agenda_stopped"], [])]

    def _new_meeting(self, turn: Turn, arg: str) -> list[Reply]:
        turn.state.reset()
        turn.state.draft = {"kind": "meeting"}
        return self.flow.ask(turn, "title")

    def _new_deadline(self, turn: Turn, arg: str) -> list[Reply]:
        turn.state.reset()
        turn.state.draft = {"kind": "deadline"}
        return self.flow.ask(turn, "dl_title")

    def _save(self, turn: Turn) -> list[Reply]:
        draft = turn.draft
        turn.state.reset()
        try:
            if draft["kind"] == "deadline":
                item = add_deadline(
                    turn.session,
                    title=draft["title"],
                    due=date.fromisoformat(draft["due"]),
                    remind=draft["remind"],
                    owners=draft.get("owners"),
                    now=turn.now,
                )
                return [(self.t["agenda_saved_deadline"].format(title=item.title), [])]
            item = add_series(
                turn.session,
                title=draft["title"],
                rrule=draft["rrule"],
                start_local=draft["start"],
                duration_minutes=draft["duration"],
                location=draft.get("location"),
                audience=draft["audience"],
                remind=draft["remind"],
                participants=draft.get("participants"),
                now=turn.now,
            )
        except UnknownParticipants as exc:  # e.g. an organisation removed from the map meanwhile
            return [(self._unknown(exc), [])]
        return [(self.t["agenda_saved_meeting"].format(title=item.title), [])]

    def _pick(self, turn: Turn, what: str) -> list[Reply]:
        turn.state.reset()
        items = [i for i in upcoming(turn.session, turn.now, PICK_DAYS) if i.kind == "meeting"][:PICK_MAX]
        if not items:
            return [(self.t["agenda_nothing_to_pick"], [])]
        return [
            (
                self.t[f"agenda_pick_{what}"],
                [
                    *(
                        Button(label=f"{short_when(i.start)} {i.title[:40]}", value=f"agenda:pick_{what}:{i.ref}")
                        for i in items
                    ),
                    self._stop(),
                ],
            )
        ]

    def _upcoming(self, turn: Turn, ref: str) -> tuple[MeetingSeries, Occurrence] | None:
        found = _occurrence(turn, ref)
        return None if found is None or found[1].start <= turn.now else found

    def _pick_cancel(self, turn: Turn, ref: str) -> list[Reply]:
        found = self._upcoming(turn, ref)
        if found is None:
            return [(self.t["agenda_gone"], [])]
        series, occurrence = found
        return [
            (
                self.t["agenda_confirm_cancel"].format(
                    title=series.title, when=dutch_when(occurrence.start.astimezone(LOCAL_TZ))
                ),
                [Button(label=self.b["agenda_yes_cancel"], value=f"agenda:do_cancel:{ref}"), self._stop()],
            )
        ]

    def _pick_move(self, turn: Turn, ref: str) -> list[Reply]:
        if self._upcoming(turn, ref) is None:
            return [(self.t["agenda_gone"], [])]
        turn.state.reset()
        turn.state.draft = {"kind": "move", "ref": ref}
        return self.flow.ask(turn, "move_to")

    def _do_cancel(self, turn: Turn, ref: str) -> list[Reply]:
        found = self._upcoming(turn, ref)
        if found is None:
            return [(self.t["agenda_gone"], [])]
        series, occurrence = found
        told = cancel_occurrence(turn.session, series, occurrence, turn.now)
        return [
            (
                self.t["agenda_cancelled"].format(
                    title=series.title, when=dutch_when(occurrence.start.astimezone(LOCAL_TZ)), told=told
                ),
                [],
            )
        ]

    def _do_move(self, turn: Turn) -> list[Reply]:
        draft = turn.draft
        found = _occurrence(turn, draft.get("ref", ""))
        turn.state.reset()
        if found is None:
            return [(self.t["agenda_gone"], [])]
        series, occurrence = found
        try:
            moved, told = move_occurrence(
                turn.session, series, occurrence, datetime.fromisoformat(draft["to"]), turn.now
            )
        except WijkbotError:
            return [(self.t["agenda_past"], [])]
        return [
            (
                self.t["agenda_moved"].format(
                    title=series.title, told=told, after=dutch_when(moved.start.astimezone(LOCAL_TZ))
                ),
                [],
            )
        ]

    # --- deadlines -----------------------------------------------------------------------------------

    def _open_deadline(self, turn: Turn, arg: str) -> Deadline | None:
        deadline = turn.session.get(Deadline, int(arg)) if arg.isdigit() else None
        if deadline is None or deadline.done_at is not None:
            turn.state.reset()
            return None
        return deadline

    def _pick_deadline(self, turn: Turn, then: str, question: str) -> list[Reply]:
        """The open deadlines as buttons: straight to done, or to the choice what to change."""
        turn.state.reset()
        open_deadlines = list(
            turn.session.scalars(
                select(Deadline).where(Deadline.done_at.is_(None)).order_by(Deadline.due).limit(PICK_MAX)
            )
        )
        if not open_deadlines:
            return [(self.t["agenda_no_deadlines"], [])]
        return [
            (
                self.t[question],
                [
                    *(
                        Button(label=f"{d.due:%d-%m-%Y} {d.title[:40]}", value=f"agenda:{then}:{d.id}")
                        for d in open_deadlines
                    ),
                    self._stop(),
                ],
            )
        ]

    def _deadline_done(self, turn: Turn, arg: str) -> list[Reply]:
        if not arg:
            return self._pick_deadline(turn, "deadline_done", "agenda_pick_done")
        deadline = self._open_deadline(turn, arg)
        if deadline is None:
            return [(self.t["agenda_gone"], [])]
        deadline_done(turn.session, deadline.id, turn.now)
        return [(self.t["agenda_done"].format(title=deadline.title), [])]

    def _deadline_change(self, turn: Turn, arg: str) -> list[Reply]:
        return self._pick_deadline(turn, "deadline_pick", "agenda_pick_deadline")

    def _deadline_pick(self, turn: Turn, arg: str) -> list[Reply]:
        deadline = self._open_deadline(turn, arg)
        if deadline is None:
            return [(self.t["agenda_gone"], [])]
        b, key = self.b, deadline.id
        return [
            (
                self.t["agenda_deadline_what"].format(title=deadline.title, due=day_text(deadline.due)),
                [
                    Button(label=b["dl_done"], value=f"agenda:deadline_done:{key}"),
                    Button(label=b["dl_move"], value=f"agenda:deadline_move:{key}"),
                    Button(label=b["dl_cancel"], value=f"agenda:deadline_cancel:{key}"),
                    self._stop(),
                ],
            )
        ]

    def _deadline_move(self, turn: Turn, arg: str) -> list[Reply]:
        deadline = self._open_deadline(turn, arg)
        if deadline is None:
            return [(self.t["agenda_gone"], [])]
        turn.state.reset()
        turn.state.draft = {"kind": "deadline_move", "id": deadline.id}
        return self.flow.ask(turn, "dl_move_to")

    def _deadline_do_move(self, turn: Turn) -> list[Reply]:
        draft = turn.draft
        deadline = self._open_deadline(turn, str(draft.get("id", "")))
        turn.state.reset()
        if deadline is None:
            return [(self.t["agenda_gone"], [])]
        moved, told = move_deadline(turn.session, deadline.id, date.fromisoformat(draft["due"]), turn.now)
        return [(self.t["agenda_dl_moved"].format(title=deadline.title, after=day_text(moved.due), told=told), [])]

    def _deadline_cancel(self, turn: Turn, arg: str) -> list[Reply]:
        deadline = self._open_deadline(turn, arg)
        if deadline is None:
            return [(self.t["agenda_gone"], [])]
        return [
            (
                self.t["agenda_confirm_dl_cancel"].format(title=deadline.title, due=day_text(deadline.due)),
                [
                    Button(label=self.b["agenda_yes_dl_cancel"], value=f"agenda:deadline_do_cancel:{deadline.id}"),
                    self._stop(),
                ],
            )
        ]

    def _deadline_do_cancel(self, turn: Turn, arg: str) -> list[Reply]:
        deadline = self._open_deadline(turn, arg)
        if deadline is None:
            return [(self.t["agenda_gone"], [])]
        _, told = cancel_deadline(turn.session, deadline.id, turn.now)
        return [(self.t["agenda_dl_cancelled"].format(title=deadline.title, told=told), [])]

    # --- helpers -------------------------------------------------------------------------------------

    def _unknown(self, exc: UnknownParticipants) -> str:
        lines = []
        for entry, is_user, near in exc.problems:
            if is_user:
                lines.append(self.t["agenda_unknown_user"].format(entry=entry))
            else:
                lines.append(
                    self.t["agenda_unknown_organization"].format(entry=entry)
                    + (" " + self.t["agenda_did_you_mean"].format(names="; ".join(near)) if near else "")
                )
        return "\n".join(lines)

    def _stop(self) -> Button:
        return Button(label=self.b["agenda_stop"], value="agenda:stop")
