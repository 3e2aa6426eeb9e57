"""The agenda in chat: `/agenda` for everyone, the RSVP buttons under reminders, and for the
coordinator: add a meeting series or a deadline, cancel or move one occurrence, mark a deadline done,
move it or cancel it.

The coordinator is guided one question at a time (buttons where there are few answers, typed text
for titles, dates and names), sees a preview and confirms; every question has a Stoppen button and
nothing is saved before Opslaan. Dates are typed the Dutch way ("dinsdag 12 januari 14:00") and read
by `intents.dates`. The changes themselves are `jobs.changes`, the same as the CLI's. Sans-I/O, like
the core: a method returns replies, the core stores the state.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actions import Agenda, Rsvp
from bot.broadcasts import AUDIENCE_NAMES
from bot.floor.clock import LOCAL_TZ, parse_duration
from bot.floor.errors import WijkbotError
from bot.floor.messages import Button
from bot.floor.models import User
from intents.dates import DateNotUnderstood, parse_date, parse_when
from intents.triage import Dialogue, TriageState
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

Reply = tuple[str, list[Button]]
REMIND_CHOICES = {"meeting_default": ["7d", "1d", "2h"], "meeting_day": ["1d"],
                  "deadline_default": ["30d", "14d", "7d", "1d"], "deadline_week": ["7d", "1d"], "none": []}
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
NTH = {1: "eerste", 2: "tweede", 3: "derde", 4: "vierde"}
SHORT_DAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")
SHORT_MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
VISIBLE_TO_RESIDENTS = ("residents", "all")
MENU = ("new_meeting", "new_deadline", "cancel_meeting", "move_meeting", "deadline_change")
WORDS = {"nieuw": "new_meeting", "overleg": "new_meeting", "deadline": "new_deadline", "afzeggen": "cancel_meeting",
         "verplaatsen": "move_meeting", "klaar": "deadline_done", "wijzigen": "deadline_change"}
PICK_DAYS = 90
PICK_MAX = 8
MAX_DURATION_MINUTES = 24 * 60  # a meeting lasts at most a day


def short_when(when: datetime) -> str:
    local = when.astimezone(LOCAL_TZ)
    return f"{SHORT_DAYS[local.weekday()]} {local.day} {SHORT_MONTHS[local.month - 1]} {local:%H.%M}"


def duration_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} minuten"
    return f"{hours} uur" + (f" en {rest} minuten" if rest else "")


def remind_text(leads: list[str]) -> str:
    if not leads:
        return "geen"
    units = {"m": ("minuut", "minuten"), "h": ("uur", "uur"), "u": ("uur", "uur"), "d": ("dag", "dagen"),
             "w": ("week", "weken")}
    parts = []
    for lead in leads:
        number, unit = lead[:-1].removesuffix("mi"), lead[-1].lower()
        if unit in units and number.isdigit():
            parts.append(f"{number} {units[unit][int(number) != 1]}")
        else:
            parts.append(lead)
    return ", ".join(parts) + " van tevoren"


class AgendaChat:
    def __init__(self, dialogue: Dialogue):
        self.dialogue = dialogue
        self.t = dialogue.texts
        self.b = dialogue.buttons

    # --- for everyone ------------------------------------------------------------------------------

    def listing(self, session: Session, user: User, now: datetime) -> list[Reply]:
        """What is coming in the next 30 days that this user may see; tallies for the coordinator."""
        audiences = dict(session.execute(select(MeetingSeries.id, MeetingSeries.audience)).all())
        items = [i for i in upcoming(session, now, 30) if user.at_least("professional") or (
            i.kind == "meeting" and audiences.get(i.series_id) in VISIBLE_TO_RESIDENTS)]
        lines = [self.t["agenda_intro"] if items else self.t["agenda_empty"]]
        for item in items[:15]:
            when = item.start.astimezone(LOCAL_TZ)
            if item.kind == "meeting":
                lines.append(f"- {dutch_day(when)}, {when:%H.%M} uur: {item.title}"
                             + (f" ({item.location})" if item.location else ""))
                counts = tally(session, item) if user.at_least("coordinator") else None
                if counts and (counts.asked or counts.yes or counts.no or counts.maybe):
                    lines.append(self.t["agenda_tally"].format(**counts.as_json()))
            else:
                lines.append(f"- {dutch_day(when)}: deadline {item.title}")
        if not user.at_least("coordinator"):
            return [("\n".join(lines), [])]
        lines += ["", self.t["agenda_coordinator"]]
        return [("\n".join(lines), [Button(label=self.b[f"agenda_{a}"], value=f"agenda:{a}") for a in MENU])]

    def rsvp(self, session: Session, pressed: Rsvp, user: User, now: datetime) -> list[Reply]:
        result = record(session, user, pressed.value, now)
        if result.outcome != "recorded":
            return [(self.t.get(f"rsvp_{result.outcome}", self.t["rsvp_unknown"]), [])]
        answer = pressed.answer
        occurrence = result.occurrence
        text = self.t[f"rsvp_{answer}"].format(title=occurrence.title, when=dutch_when(
            occurrence.start.astimezone(LOCAL_TZ)))
        return [(text, [Button(**b) for b in rsvp_buttons(occurrence)])]

    # --- the coordinator ---------------------------------------------------------------------------

    def command(self, session: Session, rest: str, user: User, state: TriageState, now: datetime) -> list[Reply]:
        """`/agenda [nieuw|deadline|afzeggen|verplaatsen|wijzigen|klaar]`; the agenda itself without a word."""
        word = rest.strip().lower()
        if not word:
            return self.listing(session, user, now)
        if not user.at_least("coordinator"):
            return [(self.t["coordinator_only"], [])]
        if word not in WORDS:  # an unknown word: the agenda and the coordinator's buttons
            return self.listing(session, user, now)
        return self.pressed(session, Agenda(kind="agenda", action=WORDS[word]), user, state, now)

    def pressed(self, session: Session, pressed: Agenda, user: User, state: TriageState, now: datetime) -> list[Reply]:
        """A button `agenda:<action>[:<argument>]`, parsed and bounded by bot.actions."""
        if not user.at_least("coordinator"):
            return [(self.t["coordinator_only"], [])]
        action, arg = pressed.action, pressed.arg
        draft, step = state.draft, (state.pending or "").removeprefix("agenda_")
        if action == "stop":
            state.reset()
            return [(self.t["agenda_stopped"], [])]
        if action == "new_meeting":
            state.reset()
            state.draft = {"kind": "meeting"}
            return self._ask(state, "title")
        if action == "new_deadline":
            state.reset()
            state.draft = {"kind": "deadline"}
            return self._ask(state, "dl_title")
        if action in ("cancel_meeting", "move_meeting"):
            state.reset()
            return self._pick(session, now, "cancel" if action == "cancel_meeting" else "move")
        if action in ("deadline_done", "deadline_change") and not arg:
            state.reset()
            return self._pick_deadline(session, action)
        if action.startswith("deadline_"):
            return self._deadline(session, action.removeprefix("deadline_"), arg, state, now)
        if action in ("pick_cancel", "pick_move", "do_cancel"):
            found = self._occurrence(session, arg)
            if found is None or found[1].start <= now:
                return [(self.t["agenda_gone"], [])]
            series, occurrence = found
            when = dutch_when(occurrence.start.astimezone(LOCAL_TZ))
            if action == "pick_cancel":
                return [(self.t["agenda_confirm_cancel"].format(title=series.title, when=when),
                         [Button(label=self.b["agenda_yes_cancel"], value=f"agenda:do_cancel:{arg}"), self._stop()])]
            if action == "pick_move":
                state.reset()
                state.draft = {"kind": "move", "ref": arg}
                return self._ask(state, "move_to")
            told = cancel_occurrence(session, series, occurrence, now)
            return [(self.t["agenda_cancelled"].format(title=series.title, when=when, told=told), [])]
        if action == "do_move" and step == "confirm_move":
            found = self._occurrence(session, draft.get("ref", ""))
            state.reset()
            if found is None:
                return [(self.t["agenda_gone"], [])]
            series, occurrence = found
            try:
                moved, told = move_occurrence(session, series, occurrence, datetime.fromisoformat(draft["to"]), now)
            except WijkbotError:
                return [(self.t["agenda_past"], [])]
            return [(self.t["agenda_moved"].format(title=series.title, told=told,
                                                   after=dutch_when(moved.start.astimezone(LOCAL_TZ))), [])]
        if action == "save" and step == "confirm":
            return self._save(session, state, now)
        # answers to the current question
        if action == "repeat" and step == "repeat":
            options = dict(self._repeat_options(datetime.fromisoformat(draft["start"])))
            if arg in options:
                draft["rrule"], draft["repeat"] = options[arg]
                return self._ask(state, "duration")
        if action == "duration" and step == "duration" and arg.isdigit() and 0 < int(arg) <= MAX_DURATION_MINUTES:
            draft["duration"] = int(arg)
            return self._ask(state, "location")
        if action == "location" and step == "location":
            draft["location"] = None
            return self._ask(state, "audience")
        if action == "audience" and step == "audience" and arg in AUDIENCE_NAMES:
            draft["audience"] = arg
            return self._ask(state, "participants" if arg == "professionals" else "remind")
        if action == "participants" and step == "participants":
            draft["participants"] = []
            return self._ask(state, "remind")
        if action == "remind" and step in ("remind", "dl_remind") and arg in REMIND_CHOICES:
            draft["remind"] = REMIND_CHOICES[arg]
            return self._ask(state, "confirm" if step == "remind" else "owners")
        if action == "owners" and step == "owners":
            draft["owners"] = None
            return self._ask(state, "confirm")
        return [(self.t["agenda_gone"], [])]

    def typed(self, session: Session, text: str, user: User, state: TriageState, now: datetime) -> list[Reply]:
        """A typed answer to the coordinator's current agenda question."""
        if not user.at_least("coordinator"):
            state.reset()
            return [(self.t["coordinator_only"], [])]
        step, draft = state.pending.removeprefix("agenda_"), state.draft
        if step in ("title", "dl_title"):
            draft["title"] = text[:300]
            return self._ask(state, "when" if step == "title" else "dl_due")
        if step in ("when", "move_to"):
            try:
                when = parse_when(text, now, LOCAL_TZ)
            except DateNotUnderstood as exc:
                return self._ask(state, step, self.t["agenda_bad_when"].format(reason=exc))
            if when <= now:
                return self._ask(state, step, self.t["agenda_past"])
            if step == "move_to":
                found = self._occurrence(session, draft.get("ref", ""))
                if found is None:
                    state.reset()
                    return [(self.t["agenda_gone"], [])]
                draft["to"] = when.isoformat()
                state.pending = "agenda_confirm_move"
                return [(self.t["agenda_confirm_move"].format(
                    title=found[0].title, before=dutch_when(found[1].start.astimezone(LOCAL_TZ)),
                    after=dutch_when(when)), [Button(label=self.b["agenda_yes_move"], value="agenda:do_move"),
                                              self._stop()])]
            draft["start"] = when.replace(tzinfo=None).isoformat(timespec="minutes")
            return self._ask(state, "repeat")
        if step in ("dl_due", "dl_move_to"):
            try:
                due = parse_date(text, now.astimezone(LOCAL_TZ).date())
            except DateNotUnderstood as exc:
                return self._ask(state, step, self.t["agenda_bad_date"].format(reason=exc))
            if due < now.astimezone(LOCAL_TZ).date():
                return self._ask(state, step, self.t["agenda_past"])
            draft["due"] = due.isoformat()
            if step == "dl_move_to":
                deadline = session.get(Deadline, draft.get("id", 0))
                if deadline is None or deadline.done_at is not None:
                    state.reset()
                    return [(self.t["agenda_gone"], [])]
                state.pending = "agenda_confirm_dl_move"
                return [(self.t["agenda_confirm_dl_move"].format(title=deadline.title, before=self._day(deadline.due),
                                                                 after=self._day(due)),
                         [Button(label=self.b["agenda_yes_move"], value="agenda:deadline_do_move"), self._stop()])]
            return self._ask(state, "dl_remind")
        if step == "duration":
            try:
                minutes = int(parse_duration(text.replace(" ", "")).total_seconds() // 60)
                if minutes > MAX_DURATION_MINUTES:
                    raise ValueError("longer than a day")
            except ValueError:
                return self._ask(state, step, self.t["agenda_bad_duration"])
            draft["duration"] = minutes
            return self._ask(state, "location")
        if step == "location":
            draft["location"] = text[:300]
            return self._ask(state, "audience")
        if step == "participants":
            entries = split_entries(text)
            try:
                resolve(session, entries)
            except UnknownParticipants as exc:
                return self._ask(state, step, self._unknown(exc))
            draft["participants"] = entries
            return self._ask(state, "remind")
        if step in ("remind", "dl_remind"):
            leads = [x.strip().replace(" ", "") for x in text.replace(";", ",").split(",") if x.strip()]
            try:
                for lead in leads:
                    parse_duration(lead)
            except ValueError:
                return self._ask(state, step, self.t["agenda_bad_remind"])
            draft["remind"] = leads
            return self._ask(state, "confirm" if step == "remind" else "owners")
        if step == "owners":
            draft["owners"] = text[:300]
            return self._ask(state, "confirm")
        if step in ("confirm_move", "confirm_dl_move"):  # a yes/no asked with buttons: show them again
            value = "agenda:do_move" if step == "confirm_move" else "agenda:deadline_do_move"
            return [(self.t["agenda_use_buttons"],
                     [Button(label=self.b["agenda_yes_move"], value=value), self._stop()])]
        return self._ask(state, step)  # a question answered with buttons: ask it again

    # --- the steps ---------------------------------------------------------------------------------

    def _ask(self, state: TriageState, step: str, before: str = "") -> list[Reply]:
        state.pending = f"agenda_{step}"
        draft, b = state.draft, self.b
        buttons: list[Button] = []
        if step == "confirm":
            text, buttons = self._preview(draft), [Button(label=b["agenda_save"], value="agenda:save")]
        elif step == "repeat":
            text = self.t["agenda_ask_repeat"]
            buttons = [Button(label=label, value=f"agenda:repeat:{code}") for code, (_, label) in
                       self._repeat_options(datetime.fromisoformat(draft["start"]))]
        elif step == "duration":
            text = self.t["agenda_ask_duration"]
            buttons = [Button(label=b[f"duration_{m}"], value=f"agenda:duration:{m}") for m in (30, 60, 90, 120)]
        elif step == "location":
            text, buttons = self.t["agenda_ask_location"], [Button(label=b["no_location"], value="agenda:location")]
        elif step == "audience":
            text = self.t["agenda_ask_audience"]
            buttons = [Button(label=name, value=f"agenda:audience:{key}") for key, name in AUDIENCE_NAMES.items()]
        elif step == "participants":
            text = self.t["agenda_ask_participants"]
            buttons = [Button(label=b["everyone_professional"], value="agenda:participants")]
        elif step in ("remind", "dl_remind"):
            kind = "meeting" if step == "remind" else "deadline"
            text = self.t["agenda_ask_remind"]
            choices = ("meeting_default", "meeting_day") if kind == "meeting" else ("deadline_default", "deadline_week")
            buttons = [Button(label=b[f"remind_{c}"], value=f"agenda:remind:{c}") for c in choices]
            buttons.append(Button(label=b["remind_none"], value="agenda:remind:none"))
        elif step == "owners":
            text, buttons = self.t["agenda_ask_owners"], [Button(label=b["skip"], value="agenda:owners")]
        else:  # title, when, dl_title, dl_due, move_to, dl_move_to: typed
            text = self.t[f"agenda_ask_{step}"]
        return [((before + "\n\n" if before else "") + text, [*buttons, self._stop()])]

    def _preview(self, draft: dict) -> str:
        if draft["kind"] == "deadline":
            return self.t["agenda_preview_deadline"].format(
                title=draft["title"], due=self._day(date.fromisoformat(draft["due"])),
                owners=draft.get("owners") or "-", remind=remind_text(draft["remind"]))
        start = datetime.fromisoformat(draft["start"]).replace(tzinfo=LOCAL_TZ)
        return self.t["agenda_preview_meeting"].format(
            title=draft["title"], when=f"{dutch_day(start)} {start.year} om {start:%H.%M} uur",
            repeat=draft["repeat"].lower(),
            duration=duration_text(draft["duration"]), location=draft.get("location") or "-",
            audience=AUDIENCE_NAMES[draft["audience"]] + (
                f" ({'; '.join(draft['participants'])})" if draft.get("participants") else ""),
            remind=remind_text(draft["remind"]))

    def _save(self, session: Session, state: TriageState, now: datetime) -> list[Reply]:
        draft = state.draft
        state.reset()
        try:
            if draft["kind"] == "deadline":
                item = add_deadline(session, title=draft["title"], due=date.fromisoformat(draft["due"]),
                                    remind=draft["remind"], owners=draft.get("owners"), now=now)
                return [(self.t["agenda_saved_deadline"].format(title=item.title), [])]
            item = add_series(session, title=draft["title"], rrule=draft["rrule"], start_local=draft["start"],
                              duration_minutes=draft["duration"], location=draft.get("location"),
                              audience=draft["audience"], remind=draft["remind"],
                              participants=draft.get("participants"), now=now)
        except UnknownParticipants as exc:  # e.g. an organisation removed from the map meanwhile
            return [(self._unknown(exc), [])]
        return [(self.t["agenda_saved_meeting"].format(title=item.title), [])]

    def _repeat_options(self, start: datetime) -> list[tuple[str, tuple[str, str]]]:
        """(code, (RRULE, label)) for the ways a meeting starting then can repeat."""
        day_name = dutch_day(start).split()[0]
        code = RRULE_DAYS[start.weekday()]
        nth = (start.day - 1) // 7 + 1
        last = start.day + 7 > calendar.monthrange(start.year, start.month)[1]
        b = self.b
        options = [("once", ("FREQ=DAILY;COUNT=1", b["repeat_once"])),
                   ("weekly", (f"FREQ=WEEKLY;BYDAY={code}", b["repeat_weekly"].format(day=day_name))),
                   ("biweekly", (f"FREQ=WEEKLY;INTERVAL=2;BYDAY={code}", b["repeat_biweekly"].format(day=day_name)))]
        if nth in NTH:
            options.append(("monthly", (f"FREQ=MONTHLY;BYDAY={nth}{code}",
                                        b["repeat_monthly"].format(nth=NTH[nth], day=day_name))))
        if last:
            options.append(("monthly_last", (f"FREQ=MONTHLY;BYDAY=-1{code}",
                                             b["repeat_monthly_last"].format(day=day_name))))
        return options

    def _pick_deadline(self, session: Session, action: str) -> list[Reply]:
        """The open deadlines as buttons: straight to done, or to the choice what to change."""
        open_deadlines = list(session.scalars(select(Deadline).where(Deadline.done_at.is_(None))
                                              .order_by(Deadline.due).limit(PICK_MAX)))
        if not open_deadlines:
            return [(self.t["agenda_no_deadlines"], [])]
        then = "deadline_done" if action == "deadline_done" else "deadline_pick"
        return [(self.t["agenda_pick_done" if action == "deadline_done" else "agenda_pick_deadline"], [
            *(Button(label=f"{d.due:%d-%m-%Y} {d.title[:40]}", value=f"agenda:{then}:{d.id}") for d in open_deadlines),
            self._stop()])]

    def _deadline(self, session: Session, what: str, arg: str, state: TriageState, now: datetime) -> list[Reply]:
        """One deadline: pick (what to do), done, move (ask the date), do_move, cancel (confirm), do_cancel."""
        if what == "do_move":
            if state.pending != "agenda_confirm_dl_move":
                return [(self.t["agenda_gone"], [])]
            arg, due = str(state.draft.get("id", "")), state.draft.get("due")
        deadline = session.get(Deadline, int(arg)) if arg.isdigit() else None
        if deadline is None or deadline.done_at is not None:
            state.reset()
            return [(self.t["agenda_gone"], [])]
        b, title = self.b, deadline.title
        if what == "pick":
            return [(self.t["agenda_deadline_what"].format(title=title, due=self._day(deadline.due)), [
                Button(label=b["dl_done"], value=f"agenda:deadline_done:{deadline.id}"),
                Button(label=b["dl_move"], value=f"agenda:deadline_move:{deadline.id}"),
                Button(label=b["dl_cancel"], value=f"agenda:deadline_cancel:{deadline.id}"), self._stop()])]
        if what == "done":
            deadline_done(session, deadline.id, now)
            return [(self.t["agenda_done"].format(title=title), [])]
        if what == "move":
            state.reset()
            state.draft = {"kind": "deadline_move", "id": deadline.id}
            return self._ask(state, "dl_move_to")
        if what == "do_move":
            state.reset()
            moved, told = move_deadline(session, deadline.id, date.fromisoformat(due), now)
            return [(self.t["agenda_dl_moved"].format(title=title, after=self._day(moved.due), told=told), [])]
        if what == "cancel":
            return [(self.t["agenda_confirm_dl_cancel"].format(title=title, due=self._day(deadline.due)), [
                Button(label=b["agenda_yes_dl_cancel"], value=f"agenda:deadline_do_cancel:{deadline.id}"),
                self._stop()])]
        if what == "do_cancel":
            _, told = cancel_deadline(session, deadline.id, now)
            return [(self.t["agenda_dl_cancelled"].format(title=title, told=told), [])]
        return [(self.t["agenda_gone"], [])]

    @staticmethod
    def _day(day: date) -> str:
        return f"{dutch_day(day)} {day.year}"

    def _pick(self, session: Session, now: datetime, what: str) -> list[Reply]:
        items = [i for i in upcoming(session, now, PICK_DAYS) if i.kind == "meeting"][:PICK_MAX]
        if not items:
            return [(self.t["agenda_nothing_to_pick"], [])]
        return [(self.t[f"agenda_pick_{what}"], [
            *(Button(label=f"{short_when(i.start)} {i.title[:40]}", value=f"agenda:pick_{what}:{i.ref}")
              for i in items), self._stop()])]

    @staticmethod
    def _occurrence(session: Session, ref: str) -> tuple[MeetingSeries, Occurrence] | None:
        try:
            series_id, stamp = ref.split(":")
            series = session.get(MeetingSeries, int(series_id))
            original = parse_stamp(stamp)
        except ValueError:
            return None
        occurrence = occurrence_at(session, series, original) if series else None
        return (series, occurrence) if occurrence else None

    def _unknown(self, exc: UnknownParticipants) -> str:
        lines = []
        for entry, is_user, near in exc.problems:
            if is_user:
                lines.append(self.t["agenda_unknown_user"].format(entry=entry))
            else:
                lines.append(self.t["agenda_unknown_organization"].format(entry=entry) + (
                    " " + self.t["agenda_did_you_mean"].format(names="; ".join(near)) if near else ""))
        return "\n".join(lines)

    def _stop(self) -> Button:
        return Button(label=self.b["agenda_stop"], value="agenda:stop")

