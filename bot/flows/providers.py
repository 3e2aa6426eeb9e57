"""Providers keep their listing current, and residents say when something is wrong (issue 14, points 3 and 4).

- `/aanbod` (a linked professional, private chat) and the monthly "Klopt dit nog?" (jobs/providers.py) show
  the organisation's services with *Alles klopt* (`check:ok[:<check>]`) and *Iets is veranderd*
  (`check:changed[:<check>]`).
- *Iets is veranderd* opens the change wizard (the table `ProviderChat.change`): which service, what
  (openingstijden, telefoon, adres, status, beschrijving, plek), the new value checked, a preview, Versturen.
  A change goes to the coordinators (Goedkeuren / Afwijzen: `change:approve|reject:<id>`) or straight onto the
  map when the organisation's setting says so (`wijkbot kaart provider ORG --direct`); the proposer is told
  the outcome. Places (plek: open, vol, wachtlijst with an expected date) are the provider's own operational
  fact: set at once, without approval.
- A resident's *Klopt niet: fout in de gegevens* (`report:start`) under an answer: which service, what
  (gesloten, verkeerd nummer, verhuisd, anders with one line), thanks. The report goes to the organisation's
  linked professionals and the coordinators (`report:done:<id>` resolves it and deletes its text).
  No reporter is stored.

A pressed button is forgeable: every handler checks that the presser may press it. Logs carry event names
and ids only, never a value, a service's name or a report's text.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import func, select

from bot.actions import Capacity, Change, Check, Report
from bot.floor.clock import local_date
from bot.floor.messages import Button
from bot.floor.models import User
from bot.floor.outbox import enqueue
from bot.floor.texts import long_date, say, words
from bot.flows import Flow, Invalid, Option, Reply, Step, Turn
from intents.dates import DateNotUnderstood, parse_date
from intents.triage import Dialogue
from jobs.providers import check_buttons, overview, status_text
from socialekaart.listing import (
    STATUSES,
    ListingReport,
    NotValid,
    ProviderChange,
    ProviderCheck,
    Standing,
    add_report,
    check_value,
    confirm_all,
    current_value,
    decide,
    direct_changes,
    propose,
    resolve_report,
    services_of,
    set_capacity,
    standings,
)
from socialekaart.models import Organization, Service
from socialekaart.providers import coordinators, members, organization_of

log = logging.getLogger(__name__)
MAX_SERVICES = 20  # buttons in the wizard; a bigger organisation is rare and picks from the first 20
EXTRA_HITS = 3  # an answer looks this many services further for alternatives with room
# an alternative from further down must score at least this share of the best full service it stands in for:
# a weak match with room is no alternative to a good match with a waiting list
ALTERNATIVE_SHARE = 0.5


# --- what a resident's answer shows ---------------------------------------------------------------------


def rank_by_room(session, hits: list, limit: int, today: date | None = None) -> tuple[list, dict[str, Standing], bool]:
    """What an answer shows: the full (or waitlisted) services among the best `limit` stay, after open ones,
    found further down `hits` where needed to make `limit` (at least one open alternative when there is
    one that scores at least ALTERNATIVE_SHARE of the best full service); and whether that changed what the
    resident sees."""
    standing = standings(session, [h.id for h in hits], today)
    top = hits[:limit]
    full = [h for h in top if not standing[h.id].has_room]
    floor = ALTERNATIVE_SHARE * max((h.score for h in full), default=0.0)
    candidates = [h for h in hits if standing[h.id].has_room and (h in top or h.score >= floor)]
    room = candidates[: max(limit - len(full), 1) if full else limit]
    shown = room + full
    return shown, standing, [h.id for h in shown] != [h.id for h in top]


def standing_line(standing: Standing, lang: str) -> str | None:
    """Vol / Wachtlijst, weer plek vanaf ... / Bevestigd door de aanbieder op ..., as one line."""
    parts = []
    if standing.capacity != "open":
        parts.append(say(f"providers.answer_is_{standing.capacity}", lang))
        if standing.capacity_from:
            parts[-1] = say(
                "providers.answer_from", lang, capacity=parts[-1], day=long_date(standing.capacity_from, lang)
            )
    if standing.confirmed_on:
        parts.append(say("providers.answer_confirmed", lang, day=long_date(standing.confirmed_on, lang)))
    return " · ".join(parts) or None


def report_button(lang: str) -> Button:
    return Button(label=say("providers.button_report", lang), value="report:start")


# --- the chat -------------------------------------------------------------------------------------------


class ProviderChat:
    def __init__(self, dialogue: Dialogue):
        self.t = dialogue.texts
        texts: dict[str, str] = {}  # every question is a function: its key stays literal (tests/test_texts.py)
        self.change = Flow(
            "change",
            {
                "service": Step(
                    lambda turn: say("providers.change_which"),
                    then="what",
                    store="service",
                    options=self._service_options,
                ),
                "what": Step(
                    lambda turn: say("providers.change_what"),
                    then=self._after_what,
                    store="field",
                    options=self._field_options,
                ),
                "value": Step(self._ask_value, then="confirm", store="value", typed=self._read_value),
                "status": Step(
                    lambda turn: say("providers.change_ask_status"),
                    then="confirm",
                    store="value",
                    options=self._status_options,
                ),
                "capacity": Step(
                    lambda turn: say("providers.change_ask_capacity"),
                    then=self._after_capacity,
                    store="capacity",
                    options=self._capacity_options,
                    button="capacity",
                ),
                "until": Step(
                    lambda turn: say("providers.change_ask_until"),
                    then=self._capacity_set,
                    store="until",
                    typed=self._read_until,
                    options=lambda turn: [Option("nodate", say("providers.button_nodate"), None)],
                    button="capacity",
                ),
                "confirm": Step(
                    self._preview,
                    then=self._send,
                    options=lambda turn: [Option("", say("providers.button_send"))],
                    button="send",
                ),
            },
            texts,
            value=lambda action, code: (
                f"capacity:{code}" if action == "capacity" else ":".join(["change", action, *([code] if code else [])])
            ),
            last=lambda turn: [Button(label=say("providers.button_stop"), value="change:stop")],
            use_buttons=say("providers.use_buttons"),
        )
        self.report = Flow(
            "report",
            {
                "service": Step(
                    lambda turn: say("providers.report_which", turn.state.lang),
                    then="what",
                    store="service",
                    options=self._answered_options,
                ),
                "what": Step(
                    lambda turn: say("providers.report_what", turn.state.lang),
                    then=self._after_reason,
                    store="reason",
                    options=self._reason_options,
                ),
                "text": Step(
                    lambda turn: say("providers.report_ask_text", turn.state.lang),
                    then=self._report_done,
                    store="text",
                    typed=self._read_report,
                ),
            },
            texts,
            value=lambda action, code: f"report:{action}:{code}",
            last=lambda turn: [Button(label=say("providers.button_stop", turn.state.lang), value="report:stop")],
        )

    # --- /aanbod and "Klopt dit nog?" ---------------------------------------------------------------

    def command(self, turn: Turn, rest: str) -> list[Reply]:
        """`/aanbod`: the professional's organisation's listing with Alles klopt / Iets is veranderd."""
        org = organization_of(turn.session, turn.user)
        if org is None:
            return [(say("providers.no_organization"), [])]
        turn.state.reset()
        turn.state.pending = "check_overview"  # "Alles klopt" confirms what was just shown, not later
        return [(overview(turn.session, org), check_buttons(None))]

    def _shows_now(self, turn: Turn, org: Organization, check_id: int | None) -> bool:
        """Whether an "Alles klopt" press confirms what the presser has in front of them: the overview
        `/aanbod` just showed (in this conversation), or the organisation's latest monthly check."""
        if check_id is None:
            return turn.state.pending == "check_overview"
        latest = turn.session.scalar(select(func.max(ProviderCheck.id)).where(ProviderCheck.organization_id == org.id))
        return check_id == latest

    def _organization(self, turn: Turn, check_id: int | None) -> Organization | str | None:
        """The organisation a press is about, if the presser may act for it; else the text key why not."""
        if turn.session.info.get("group"):
            return "private_only"
        if not turn.user.at_least("professional"):
            return "professionals_only"
        mine = organization_of(turn.session, turn.user)
        if check_id is None:
            return mine or "no_organization"
        check = turn.session.get(ProviderCheck, check_id)
        org = turn.session.get(Organization, check.organization_id) if check else None
        if org is None:
            return "gone"
        if (mine is None or mine.id != org.id) and not turn.user.at_least("coordinator"):
            log.info("check button refused: not of this organisation")
            return "not_yours"
        return org

    def _refused(self, key: str) -> list[Reply]:
        why = {
            "private_only": lambda: self.t["private_only"],
            "not_yours": lambda: say("providers.not_yours"),
            "professionals_only": lambda: say("providers.professionals_only"),
            "gone": lambda: say("providers.gone"),
            "no_organization": lambda: say("providers.no_organization"),
        }
        return [(why[key](), [])]

    def checked(self, turn: Turn, pressed: Check) -> list[Reply]:
        org = self._organization(turn, pressed.number)
        if isinstance(org, str) or org is None:
            return self._refused(org or "no_organization")
        if pressed.choice == "ok":
            if not self._shows_now(turn, org, pressed.number):  # an old message: show what is there now
                turn.state.reset()
                turn.state.pending = "check_overview"
                lead = say("providers.check_old")
                return [(lead + "\n\n" + overview(turn.session, org), check_buttons(None))]
            count = confirm_all(turn.session, org, turn.now)
            turn.state.pending = None
            return [(say("providers.confirmed", count=count, day=long_date(local_date(turn.now))), [])]
        turn.state.reset()
        services = services_of(turn.session, org)[:MAX_SERVICES]
        if not services:
            return [(say("providers.no_services"), [])]
        turn.state.draft = {"org": org.id, "services": [[s.id, s.name] for s in services]}
        if len(services) == 1:
            turn.state.draft["service"] = 1
            return self.change.ask(turn, "what")
        return self.change.ask(turn, "service")

    # --- the change wizard --------------------------------------------------------------------------

    def _service(self, turn: Turn) -> Service | None:
        services = turn.draft.get("services") or []
        n = turn.draft.get("service") or 0
        return turn.session.get(Service, services[n - 1][0]) if 0 < n <= len(services) else None

    def _service_options(self, turn: Turn) -> list[Option]:
        return [Option(str(n), name, n) for n, (_, name) in enumerate(turn.draft.get("services") or [], 1)]

    @staticmethod
    def _field_options(turn: Turn) -> list[Option]:
        return [
            Option(f, say(f"providers.field_{f}"), f)
            for f in ("hours", "phone", "address", "status", "description", "capacity")
        ]

    @staticmethod
    def _status_options(turn: Turn) -> list[Option]:
        return [Option(code, say(f"providers.status_{code}"), hsds) for code, hsds in STATUSES.items()]

    @staticmethod
    def _capacity_options(turn: Turn) -> list[Option]:
        return [Option(c, say(f"providers.place_{c}"), c) for c in ("open", "full", "waitlist")]

    @staticmethod
    def _after_what(turn: Turn) -> str:
        return {"status": "status", "capacity": "capacity"}.get(turn.draft.get("field", ""), "value")

    def _current(self, turn: Turn, field: str) -> str:
        service = self._service(turn)
        value = current_value(service, field, words("calendar.days_short")) if service else None
        if field == "status" and value:
            return status_text(value)
        return value or say("providers.unknown")

    def _ask_value(self, turn: Turn) -> str:
        field = turn.draft["field"]
        return say(f"providers.ask_value_{field}", current=self._current(turn, field))

    @staticmethod
    def _read_value(turn: Turn, text: str) -> str:
        try:
            return check_value(turn.draft["field"], text)
        except NotValid as exc:
            raise Invalid(say(f"providers.invalid_{exc.key}")) from None

    def _preview(self, turn: Turn) -> str:
        field, service = turn.draft["field"], self._service(turn)
        new = turn.draft["value"]
        return "\n".join(
            [
                say(
                    "providers.change_preview",
                    service=service.name if service else "?",
                    what=say(f"providers.field_{field}"),
                    old=self._current(turn, field),
                    new=status_text(new) if field == "status" else new,
                ),
                say("providers.change_direct")
                if direct_changes(turn.session, turn.draft["org"])
                else say("providers.change_approval"),
            ]
        )

    def _allowed(self, turn: Turn, service: Service | None) -> bool:
        """Still a member of the service's organisation (or a coordinator) when the change is sent."""
        if service is None or service.organization_id != turn.draft.get("org"):
            return False
        mine = organization_of(turn.session, turn.user)
        return (mine is not None and mine.id == service.organization_id) or turn.user.at_least("coordinator")

    def _send(self, turn: Turn) -> list[Reply]:
        service = self._service(turn)
        if not self._allowed(turn, service):
            turn.state.reset()
            return [(say("providers.not_yours"), [])]
        assert service is not None
        change = propose(turn.session, service, turn.draft["field"], turn.draft["value"], turn.user, turn.now)
        turn.state.reset()
        if change.status == "applied":
            return [(say("providers.change_applied", service=service.name), [])]
        self._ask_coordinators(turn, change, service)
        return [(say("providers.change_sent", service=service.name), [])]

    def _ask_coordinators(self, turn: Turn, change: ProviderChange, service: Service) -> None:
        org = turn.session.get(Organization, change.organization_id)
        days = words("calendar.days_short")
        old = current_value(service, change.field, days) or say("providers.unknown")  # not applied yet: the old one
        new = change.value or ""
        if change.field == "status":
            old, new = status_text(old), status_text(new)
        text = say(
            "providers.approval",
            organization=org.name if org else "?",
            service=service.name,
            what=say(f"providers.field_{change.field}"),
            old=old,
            new=new,
        )
        buttons = [
            {"label": say("providers.button_approve"), "value": f"change:approve:{change.id}"},
            {"label": say("providers.button_reject"), "value": f"change:reject:{change.id}"},
        ]
        for person in coordinators(turn.session):
            enqueue(turn.session, f"change:{change.id}:user:{person.id}", person, text, turn.now, buttons=buttons)

    def _after_capacity(self, turn: Turn) -> str | list[Reply]:
        if turn.draft.get("capacity") == "open":
            return self._capacity_set(turn)
        return "until"

    def _read_until(self, turn: Turn, text: str) -> str:
        try:
            day = parse_date(text, local_date(turn.now))
        except DateNotUnderstood as exc:
            raise Invalid(str(exc) + " " + say("providers.until_example")) from None
        if day < local_date(turn.now):
            raise Invalid(say("providers.until_past"))
        return day.isoformat()

    def _capacity_set(self, turn: Turn) -> list[Reply]:
        service = self._service(turn)
        if not self._allowed(turn, service):
            turn.state.reset()
            return [(say("providers.not_yours"), [])]
        assert service is not None
        capacity, until = turn.draft["capacity"], turn.draft.get("until")
        set_capacity(turn.session, service, capacity, date.fromisoformat(until) if until else None, turn.now)
        turn.state.reset()
        shown = say(f"providers.place_{capacity}")
        if until:
            shown = say("providers.room_from", capacity=shown, day=long_date(date.fromisoformat(until)))
        return [(say("providers.capacity_saved", service=service.name, capacity=shown), [])]

    def change_pressed(self, turn: Turn, pressed: Change) -> list[Reply]:
        if pressed.action in ("approve", "reject"):
            return self._decide(turn, pressed)
        if turn.session.info.get("group"):
            return [(self.t["private_only"], [])]
        if pressed.action == "stop":
            if self.change.step_of(turn.state) is None:
                return [(self.t["button_unknown"], [])]
            turn.state.reset()
            return [(say("providers.stopped"), [])]
        if pressed.action == "send":
            replies = self.change.pressed(turn, "send", "")
        else:
            replies = self.change.pressed(turn, pressed.action, pressed.arg)
        return replies if replies is not None else [(self.t["button_unknown"], [])]

    def capacity_pressed(self, turn: Turn, pressed: Capacity) -> list[Reply]:
        replies = self.change.pressed(turn, "capacity", pressed.choice)
        return replies if replies is not None else [(self.t["button_unknown"], [])]

    def _decide(self, turn: Turn, pressed: Change) -> list[Reply]:
        if not turn.user.at_least("coordinator"):
            log.info("change decision refused: not a coordinator")
            return [(self.t["coordinator_only"], [])]
        change = turn.session.get(ProviderChange, pressed.number)
        if change is None:
            return [(self.t["button_unknown"], [])]
        service = turn.session.get(Service, change.service_id)
        name = service.name if service else "?"
        if not decide(turn.session, change, pressed.action == "approve", turn.user, turn.now):
            return [(say("providers.change_already", service=name), [])]
        outcome = "applied" if change.status == "applied" else "rejected"
        proposer = turn.session.get(User, change.proposed_by) if change.proposed_by else None
        if proposer is not None and proposer.chat_id and proposer.id != turn.user.id:
            enqueue(
                turn.session,
                f"change:{change.id}:outcome",
                proposer,
                say(f"providers.outcome_{outcome}", service=name),
                turn.now,
            )
        return [(say(f"providers.decided_{outcome}", service=name), [])]

    def typed(self, turn: Turn, text: str) -> list[Reply]:
        """A typed answer to the change wizard or to the report's question."""
        if (turn.state.pending or "").startswith("report_"):
            return self.report.typed(turn, text)
        return self.change.typed(turn, text)

    # --- a resident's report ----------------------------------------------------------------------------

    def _answered(self, turn: Turn) -> list[Service]:
        ids = (turn.state.answered or {}).get("services") or []
        found = [turn.session.get(Service, sid) for sid in ids[:MAX_SERVICES]]
        return [s for s in found if s is not None]

    def _answered_options(self, turn: Turn) -> list[Option]:
        return [Option(str(n), s.name, n) for n, s in enumerate(self._answered(turn), 1)]

    @staticmethod
    def _reason_options(turn: Turn) -> list[Option]:
        lang = turn.state.lang
        return [Option(r, say(f"providers.reason_{r}", lang), r) for r in ("closed", "phone", "moved", "other")]

    @staticmethod
    def _after_reason(turn: Turn) -> str | list[Reply]:
        return "text" if turn.draft.get("reason") == "other" else []

    @staticmethod
    def _read_report(turn: Turn, text: str) -> str:
        if len(text) > 200:
            raise Invalid(say("providers.report_too_long", turn.state.lang))
        return text

    def report_pressed(self, turn: Turn, pressed: Report) -> list[Reply]:
        if pressed.action == "done":
            return self._resolve(turn, pressed.number)
        state = turn.state
        if pressed.action == "start":
            services = self._answered(turn)
            if not services:
                return [(say("providers.report_nothing", state.lang), [])]
            state.draft = {}
            if len(services) == 1:
                state.draft["service"] = 1
                return self.report.ask(turn, "what")
            return self.report.ask(turn, "service")
        if pressed.action == "stop":
            if self.report.step_of(state) is None:
                return [(self.t["button_unknown"], [])]
            self._back_to_followup(turn)
            return [(say("providers.report_stopped", state.lang), [])]
        replies = self.report.pressed(turn, pressed.action, pressed.arg)
        if replies is None:
            return [(self.t["button_unknown"], [])]
        return replies or self._report_done(turn)

    def _report_done(self, turn: Turn) -> list[Reply]:
        services = self._answered(turn)
        n = turn.draft.get("service") or 0
        service = services[n - 1] if 0 < n <= len(services) else None
        lang = turn.state.lang
        if service is None:
            self._back_to_followup(turn)
            return [(self.t["button_unknown"], [])]
        reported = (turn.state.answered or {}).setdefault("reported", [])
        if service.id in reported:  # one report per service of an answer
            self._back_to_followup(turn)
            return [(say("providers.report_made_before", lang), [])]
        reported.append(service.id)
        report = add_report(turn.session, service, turn.draft.get("reason", "other"), turn.draft.get("text"), turn.now)
        told = self._tell_about_report(turn, report, service) if report is not None else True
        self._back_to_followup(turn)
        thanks = say("providers.report_thanks", lang) if told else say("providers.report_thanks_coordinator", lang)
        return [(thanks, [])]

    @staticmethod
    def _back_to_followup(turn: Turn) -> None:
        """The report is done: the answer's follow-up buttons still count ("Heeft u hier iets aan?")."""
        turn.state.draft = {}
        turn.state.pending = "followup" if (turn.state.answered or {}).get("services") else None

    def _tell_about_report(self, turn: Turn, report: ListingReport, service: Service) -> bool:
        """The report to the organisation's linked professionals and to the coordinators; True when the
        organisation itself was told."""
        org = turn.session.get(Organization, service.organization_id) if service.organization_id else None
        lines = [
            say(
                "providers.report_message",
                service=service.name,
                organization=org.name if org else "?",
                reason=say(f"providers.reason_{report.reason}"),
            )
        ]
        if report.text:
            lines.append(say("providers.report_message_text", text=report.text))
        done = {"label": say("providers.button_done"), "value": f"report:done:{report.id}"}
        people = members(turn.session, org) if org else []
        for person in people:
            text = "\n".join([*lines, say("providers.report_message_member")])
            enqueue(turn.session, f"report:{report.id}:user:{person.id}", person, text, turn.now, buttons=[done])
        for person in coordinators(turn.session):
            if person.id in {p.id for p in people}:
                continue
            enqueue(
                turn.session, f"report:{report.id}:user:{person.id}", person, "\n".join(lines), turn.now, buttons=[done]
            )
        return bool(people)

    def _resolve(self, turn: Turn, report_id: int) -> list[Reply]:
        report = turn.session.get(ListingReport, report_id)
        if report is None:
            return [(self.t["button_unknown"], [])]
        mine = organization_of(turn.session, turn.user)
        if not turn.user.at_least("coordinator") and (
            not turn.user.at_least("professional") or mine is None or mine.id != report.organization_id
        ):
            log.info("report resolution refused: not of this organisation")
            return [(say("providers.not_yours"), [])]
        if not resolve_report(turn.session, report, turn.now):
            return [(say("providers.report_already"), [])]
        return [(say("providers.report_resolved"), [])]
