"""The warm handoff in chat (issue 14): "Laat iemand contact met mij opnemen" under an answer.

The resident's side is a table of steps walked by bot.flows.Flow: which service (when the answer showed
more than one), consent in plain words (what is shared, with whom, for how long), first name, phone or
"via deze chat", the best time, the need in one line (suggested from the kind of need and for whom, never
from the conversation), a preview, and Versturen. Only then is anything saved (jobs.handoffs.create).

The other buttons: a professional's *Ik pak het op* / *Past niet bij ons* under a need card (only a member
of the card's organisation or a coordinator), the message "via deze chat" and the resident's one answer
to it, the follow-up ✅ / ⏳ / ❌ (only the handoff's resident, on any linked account), and the next match.
`/doorverwijzingen` lists the handoffs for the coordinator without anything personal.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.actions import Card, Handoff, Outcome
from bot.floor.clock import local_date
from bot.floor.messages import Button
from bot.floor.models import User
from bot.floor.texts import long_date, say
from bot.flows import Flow, Invalid, Option, Reply, Step, Turn
from jobs import handoffs
from jobs.handoffs import Handoff as HandoffRow
from jobs.handoffs import Policy
from socialekaart.listing import NotValid, dutch_phone
from socialekaart.needs import label_of
from socialekaart.providers import organization_of

log = logging.getLogger(__name__)
MAX_NAME, MAX_LINE, MAX_MESSAGE = 40, 140, 1000
CHAT = "chat"
CHAT_WORDS = ("chat", "via chat", "via de chat", "via deze chat", "deze chat")


def _words(text: str) -> str:
    return " ".join(text.split())


def read_name(turn: Turn, text: str) -> str:
    """A first name or initials: letters, spaces, dots, hyphens and apostrophes; at most three words."""
    name, lang = _words(text), turn.state.lang
    if not name:
        raise Invalid(say("handoff.bad_empty", lang))
    if len(name) > MAX_NAME or len(name.split()) > 3:
        raise Invalid(say("handoff.bad_name_long", lang))
    if not any(c.isalpha() for c in name) or not all(c.isalpha() or c in " .-'" for c in name):
        raise Invalid(say("handoff.bad_name", lang))
    return name


def read_phone(turn: Turn, text: str) -> str:
    """A Dutch phone number (06-12345678, 053 555 1234, +31 6 ...), kept as 10 digits; or "via deze chat"."""
    if _words(text).lower() in CHAT_WORDS:
        return CHAT
    try:  # the map's reader of Dutch numbers; a resident is reached on a 10-digit number, not 0800 or 14 0xx
        digits = dutch_phone(text).replace("-", "")
    except NotValid:
        digits = ""
    if len(digits) != 10:
        raise Invalid(say("handoff.bad_phone", turn.state.lang))
    return digits


def read_line(turn: Turn, text: str) -> str:
    """The need in one line: some words, at most 140 characters, no HTML."""
    line, lang = _words(text), turn.state.lang
    if not line:
        raise Invalid(say("handoff.bad_empty", lang))
    if len(line) > MAX_LINE:
        raise Invalid(say("handoff.bad_line_long", lang, most=MAX_LINE, count=len(line)))
    if "<" in line or ">" in line:
        raise Invalid(say("handoff.bad_html", lang))
    if not any(c.isalnum() for c in line):
        raise Invalid(say("handoff.bad_no_words", lang))
    return line


def read_message(turn: Turn, text: str) -> str:
    message, lang = text.strip(), turn.state.lang
    if not any(c.isalnum() for c in message):
        raise Invalid(say("handoff.bad_no_words", lang))
    if len(message) > MAX_MESSAGE:
        raise Invalid(say("handoff.bad_message_long", lang, most=MAX_MESSAGE))
    return message


def _store_phone(draft: dict, value: Any) -> None:
    draft["via_chat"] = value == CHAT
    draft["phone"] = None if value == CHAT else value


class HandoffChat:
    def __init__(self, settings):
        self.policy = Policy.of(settings)
        steps = {
            "service": Step(self._ask_service, then="consent", store="service", options=self._service_options),
            "consent": Step(self._ask_consent, then="name", options=self._consent_options),
            "name": Step(self._ask_name, then="phone", store="name", typed=read_name),
            "phone": Step(
                self._ask_phone, then="time", store=_store_phone, typed=read_phone, options=self._phone_options
            ),
            "time": Step(self._ask_time, then="need", store="time", options=self._time_options),
            "need": Step(self._ask_need, then="confirm", store="line", typed=read_line, options=self._need_options),
            "confirm": Step(self._preview, then=self._send, options=self._send_options),
        }
        self.flow = Flow("handoff", steps, {}, value=lambda action, code: f"handoff:{action}:{code}", last=self._stop)

    @staticmethod
    def start_button(lang: str = "nl") -> Button:
        """Under an answer (bot/core.py): "Laat iemand contact met mij opnemen"."""
        return Button(label=say("handoff.button_start", lang), value="handoff:start")

    # --- the resident's wizard ---------------------------------------------------------------------------

    def _service(self, turn: Turn) -> tuple[str, str]:
        return handoffs.service_names(turn.session, turn.draft["service"])

    def _candidates(self, turn: Turn) -> list[str]:
        return [s for s in turn.draft.get("shown", []) if s not in turn.draft.get("tried", [])]

    def _ask_service(self, turn: Turn) -> str:
        return say("handoff.ask_service", turn.state.lang)

    def _service_options(self, turn: Turn) -> list[Option]:
        return [
            Option(str(n), "{} ({})".format(*handoffs.service_names(turn.session, s)), s)
            for n, s in enumerate(self._candidates(turn), 1)
        ]

    def _ask_consent(self, turn: Turn) -> str:
        service, organization = self._service(turn)
        return say(
            "handoff.ask_consent",
            turn.state.lang,
            service=service,
            organization=organization,
            followup=self.policy.followup.days,
            days=self.policy.retention.days,
        )

    def _consent_options(self, turn: Turn) -> list[Option]:
        return [Option("yes", say("handoff.button_consent", turn.state.lang), True)]

    def _ask_name(self, turn: Turn) -> str:
        return say("handoff.ask_name", turn.state.lang)

    def _ask_phone(self, turn: Turn) -> str:
        return say("handoff.ask_phone", turn.state.lang)

    def _phone_options(self, turn: Turn) -> list[Option]:
        return [Option(CHAT, say("handoff.button_via_chat", turn.state.lang), CHAT)]

    def _ask_time(self, turn: Turn) -> str:
        return say("handoff.ask_time", turn.state.lang)

    def _time_options(self, turn: Turn) -> list[Option]:
        return [Option(code, say(f"handoff.time.{code}", turn.state.lang), code) for code in handoffs.TIMES]

    def suggestion(self, turn: Turn) -> str:
        """The need line offered to confirm: the kind of need and for whom, nothing of the conversation."""
        need, lang = turn.draft.get("need") or "onbekend", turn.state.lang
        if need == "onbekend":
            kind = self._service(turn)[0]
        else:
            kind = label_of(need) if lang == "nl" else need.replace("-", " ")
        whom = turn.draft.get("for_whom") if turn.draft.get("for_whom") in handoffs.WHOM else "self"
        return say("handoff.suggest", lang, kind=kind, whom=say(f"handoff.whom.{whom}", lang))

    def _ask_need(self, turn: Turn) -> str:
        return say("handoff.ask_need", turn.state.lang, line=self.suggestion(turn), most=MAX_LINE)

    def _need_options(self, turn: Turn) -> list[Option]:
        return [Option("ok", say("handoff.button_line_ok", turn.state.lang), self.suggestion(turn))]

    def _preview(self, turn: Turn) -> str:
        draft, lang = turn.draft, turn.state.lang
        service, organization = self._service(turn)
        contact = (
            say("handoff.preview_chat", lang)
            if draft.get("via_chat")
            else say("handoff.preview_phone", lang, phone=handoffs.phone_text(draft.get("phone") or ""))
        )
        return say(
            "handoff.preview",
            lang,
            organization=organization,
            service=service,
            name=draft["name"],
            contact=contact,
            time=say(f"handoff.time.{draft['time']}", lang),
            line=draft["line"],
        )

    def _send_options(self, turn: Turn) -> list[Option]:
        return [Option("send", say("handoff.button_send", turn.state.lang))]

    def _stop(self, turn: Turn) -> list[Button]:
        return [Button(label=say("handoff.button_cancel", turn.state.lang), value="handoff:cancel")]

    def _send(self, turn: Turn) -> list[Reply]:
        draft, lang = turn.draft, turn.state.lang
        _, organization = self._service(turn)
        if handoffs.open_for(turn.session, turn.user, draft["service"]) is not None:
            turn.state.reset()
            return [(say("handoff.already_asked", lang, organization=organization), [])]
        handoff, reached, queued = handoffs.create(
            turn.session, turn.user, {**draft, "lang": lang}, turn.now, self.policy
        )
        turn.state.reset()
        if not reached:  # nobody to send it to: no professional, no coordinator
            handoffs.close(turn.session, handoff, "unreachable", turn.now)
            return [(say("handoff.nobody", lang, human_contact=self.policy.human_contact), [])]
        return [
            (
                say(
                    f"handoff.sent{'_queue' if queued else ''}",
                    lang,
                    organization=organization,
                    days=self.policy.followup.days,
                    until=long_date(local_date(handoff.expires_at), lang),
                ),
                [],
            )
        ]

    # --- entry points from the core ----------------------------------------------------------------------

    def typed(self, turn: Turn, text: str) -> list[Reply]:
        """A typed answer while `state.pending` is one of this flow's."""
        if turn.state.pending == "handoff_relay":
            return self._relay_typed(turn, text)
        if turn.state.pending == "handoff_reply":
            return self._reply_typed(turn, text)
        name = self.flow.step_of(turn.state)
        if name is None:
            turn.state.reset()
            return [(say("handoff.old_button", turn.state.lang), [])]
        if self.flow.steps[name].typed is None:
            return self.flow.ask(turn, name, say("handoff.use_buttons", turn.state.lang))
        return self.flow.typed(turn, text)

    def pressed(self, turn: Turn, pressed: Handoff) -> list[Reply]:
        lang = turn.state.lang
        if pressed.action == "start":
            return self._start(turn)
        if pressed.action == "cancel":
            if (turn.state.pending or "").startswith("handoff_"):
                turn.state.reset()
            return [(say("handoff.cancelled", lang), [])]
        if pressed.action == "next":
            return self._next(turn, pressed.number)
        if pressed.action == "reply":
            return self._reply_pressed(turn, pressed.number)
        replies = self.flow.pressed(turn, pressed.action, pressed.arg)
        return replies if replies is not None else [(say("handoff.old_button", lang), [])]

    def _start(self, turn: Turn) -> list[Reply]:
        answered, state = turn.state.answered, turn.state
        if not answered.get("services"):
            return [(say("handoff.old_button", state.lang), [])]
        for_whom = state.for_whom
        state.reset()
        state.draft = {
            "shown": list(answered["services"]),
            "tried": [],
            "need": answered.get("need"),
            "for_whom": for_whom,
        }
        candidates = self._candidates(turn)
        if len(candidates) == 1:
            state.draft["service"] = candidates[0]
            return self.flow.ask(turn, "consent")
        return self.flow.ask(turn, "service")

    def _mine(self, turn: Turn, number: int) -> HandoffRow | None:
        handoff = turn.session.get(HandoffRow, number)
        return handoff if handoff is not None and handoffs.is_resident(turn.session, turn.user, handoff) else None

    def _next(self, turn: Turn, number: int) -> list[Reply]:
        """The next match after a decline or ❌: the wizard again, with fresh consent for the new organisation."""
        lang, handoff = turn.state.lang, self._mine(turn, number)
        if handoff is None or not handoff.closed:
            return [(say("handoff.not_yours", lang), [])]
        following = handoffs.next_service(turn.session, handoff)
        if following is None:
            return [(say("handoff.none_left", lang, human_contact=self.policy.human_contact), [])]
        if handoffs.open_for(turn.session, turn.user, following) is not None:
            _, organization = handoffs.service_names(turn.session, following)
            return [(say("handoff.already_asked", lang, organization=organization), [])]
        turn.state.reset()
        turn.state.draft = {
            "shown": list(handoff.shown),
            "tried": [*handoff.tried, handoff.service_id],
            "need": handoff.need,
            "for_whom": handoff.for_whom,
            "service": following,
        }
        log.info("handoff %s: the next match asked for", handoff.id)
        return self.flow.ask(turn, "consent")

    # --- "via deze chat": a message from the professional, one answer from the resident --------------------

    def _reply_pressed(self, turn: Turn, number: int) -> list[Reply]:
        lang, handoff = turn.state.lang, self._mine(turn, number)
        if handoff is None or handoff.closed or not handoff.awaiting_reply:
            return [(say("handoff.reply_closed", lang), [])]
        _, organization = handoffs.service_names(turn.session, handoff.service_id)
        turn.state.reset()
        turn.state.pending, turn.state.draft = "handoff_reply", {"handoff": handoff.id}
        return [(say("handoff.ask_reply", lang, organization=organization), self._stop(turn))]

    def _reply_typed(self, turn: Turn, text: str) -> list[Reply]:
        lang = turn.state.lang
        handoff = self._mine(turn, turn.draft.get("handoff", 0))
        if handoff is None or handoff.closed or not handoff.awaiting_reply:
            turn.state.reset()
            return [(say("handoff.reply_closed", lang), [])]
        try:
            message = read_message(turn, text)
        except Invalid as exc:
            return [(exc.message + "\n\n" + say("handoff.ask_reply_again", lang), self._stop(turn))]
        handoffs.relay_to_professional(turn.session, handoff, message, turn.now)
        turn.state.reset()
        _, organization = handoffs.service_names(turn.session, handoff.service_id)
        return [(say("handoff.reply_sent", lang, organization=organization), [])]

    def _relay_typed(self, turn: Turn, text: str) -> list[Reply]:
        handoff = turn.session.get(HandoffRow, turn.draft.get("handoff", 0))
        if handoff is None or handoff.closed or not handoffs.has_claimed(turn.session, turn.user, handoff):
            turn.state.reset()
            return [(say("handoff.card_closed"), [])]
        try:
            message = read_message(turn, text)
        except Invalid as exc:
            return [(exc.message + "\n\n" + say("handoff.ask_message_again"), self._stop(turn))]
        name = handoff.first_name or ""
        turn.state.reset()
        if not handoffs.relay_to_resident(turn.session, handoff, message, turn.now):
            return [(say("handoff.message_not_sent"), [])]
        return [(say("handoff.message_sent", name=name), [])]

    # --- the need card: claim, decline (with a reason), a message -------------------------------------------

    def card(self, turn: Turn, pressed: Card) -> list[Reply]:
        session, user = turn.session, turn.user
        handoff = session.get(HandoffRow, pressed.handoff)
        if handoff is None:
            return [(say("handoff.card_gone"), [])]
        if not handoffs.may_handle_card(session, user, handoff):
            log.info("handoff %s: a card button refused", handoff.id)
            return [(say("handoff.card_not_yours"), [])]
        if pressed.action == "message":
            return self._message_pressed(turn, handoff)
        if handoff.status not in handoffs.OPEN:
            return [(self._taken(turn, handoff), [])]
        if pressed.action == "claim":
            if not handoffs.claim(session, handoff, user, turn.now):  # someone else was just first
                return [(self._taken(turn, handoff), [])]
            return [self._claimed(turn, handoff)]
        if pressed.action == "decline":
            return [(say("handoff.ask_reason", id=handoff.id), self._reason_buttons(handoff))]
        if not handoffs.decline(session, handoff, pressed.reason, turn.now, self.policy):
            return [(self._taken(turn, handoff), [])]
        session.info["scrub"] = True  # the card's data were deleted: no copy stays in the database file
        log.info("handoff %s declined: %s", handoff.id, pressed.reason)
        return [(say("handoff.declined_noted", id=handoff.id), [])]

    @staticmethod
    def _reason_buttons(handoff: HandoffRow) -> list[Button]:
        return [
            Button(label=say(f"handoff.reason.{code}"), value=f"card:reason:{handoff.id}:{code}")
            for code in handoffs.REASONS
        ]

    def _taken(self, turn: Turn, handoff: HandoffRow) -> str:
        """Why a card can no longer be claimed or declined: who has it, or that it is closed."""
        if handoff.status != "claimed":
            return say("handoff.card_closed")
        if handoffs.has_claimed(turn.session, turn.user, handoff):
            return say("handoff.claimed_by_you", id=handoff.id)
        claimer = turn.session.get(User, handoff.claimed_by) if handoff.claimed_by else None
        org = organization_of(turn.session, claimer) if claimer is not None else None
        if claimer is not None and claimer.at_least("coordinator"):
            who = say("handoff.who_coordinator")
        else:
            who = say("handoff.who_colleague", organization=org.name if org else "")
        when = long_date(local_date(handoff.claimed_at)) if handoff.claimed_at else ""
        return say("handoff.claimed_by_other", id=handoff.id, who=who, day=when)

    def _claimed(self, turn: Turn, handoff: HandoffRow) -> Reply:
        name, time = handoff.first_name or "", say(f"handoff.time.{handoff.best_time or 'any'}")
        if handoff.via_chat:
            text = say("handoff.you_claimed_chat", id=handoff.id, name=name, time=time)
            return text, [Button(label=say("handoff.button_message"), value=f"card:message:{handoff.id}")]
        phone = handoffs.phone_text(handoff.phone or "")
        return say("handoff.you_claimed_phone", id=handoff.id, name=name, phone=phone, time=time), []

    def _message_pressed(self, turn: Turn, handoff: HandoffRow) -> list[Reply]:
        if handoff.closed:
            return [(say("handoff.card_closed"), [])]
        if not handoffs.has_claimed(turn.session, turn.user, handoff):
            return [(say("handoff.message_only_claimer"), [])]
        if not handoff.via_chat:
            return [(say("handoff.message_phone", phone=handoffs.phone_text(handoff.phone or "")), [])]
        turn.state.reset()
        turn.state.pending, turn.state.draft = "handoff_relay", {"handoff": handoff.id}
        return [(say("handoff.ask_message", name=handoff.first_name or ""), self._stop(turn))]

    # --- the follow-up -------------------------------------------------------------------------------------

    def outcome(self, turn: Turn, pressed: Outcome) -> list[Reply]:
        lang, handoff = turn.state.lang, self._mine(turn, pressed.handoff)
        if handoff is None:
            return [(say("handoff.not_yours", lang), [])]
        if handoff.closed or handoff.followups == 0:
            return [(say("handoff.outcome_closed", lang), [])]
        result = handoffs.answer_followup(turn.session, handoff, pressed.choice, turn.now, self.policy)
        log.info("handoff %s follow-up answered: %s", handoff.id, result)
        if result == "answered":
            return [(say("handoff.outcome_answered", lang), [])]
        turn.session.info["scrub"] = True  # a closed card's data leave no copy in the database file
        if result == "helped":
            return [(say("handoff.thanks_helped", lang), [])]
        if result == "busy_again":
            return [(say("handoff.thanks_busy", lang, days=self.policy.followup.days), [])]
        if result == "busy_closed":
            return [(say("handoff.busy_closed", lang, human_contact=self.policy.human_contact), [])]
        text, buttons = handoffs.offer_next(
            turn.session, handoff, say("handoff.not_helped", lang), turn.now, self.policy
        )
        return [(text, [Button(**b) for b in buttons])]

    # --- the coordinator -------------------------------------------------------------------------------------

    def report(self, turn: Turn, rest: str) -> list[Reply]:
        """`/doorverwijzingen`: open, unanswered, claimed and declined handoffs, without anything personal."""
        lines: list[str] = []
        for status in ("unanswered", "open", "claimed", "declined"):
            rows = handoffs.listing(turn.session, status, limit=10)
            if not rows:
                continue
            lines += ["", say(f"handoff.report.{status}")]
            lines += [
                say(
                    "handoff.report_line",
                    id=r["id"],
                    service=r["service"],
                    organization=r["organization"],
                    need=label_of(r["need"]),
                    day=long_date(local_date(datetime.fromisoformat(r["created_at"]))),
                )
                for r in rows
            ]
        totals = {c: sum(r[c] for r in handoffs.counts(turn.session)) for c in handoffs.COUNTS}
        if not lines and not totals["sent"]:
            return [(say("handoff.report_none"), [])]
        title = say(
            "handoff.report_title",
            sent=totals["sent"],
            claimed=totals["claimed"],
            declined=totals["declined"],
            unanswered=totals["unanswered"],
            helped=totals["helped"],
            busy=totals["busy"],
            not_helped=totals["not_helped"],
        )
        return [(title + "\n".join(lines), [])]
