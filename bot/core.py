"""The channel-agnostic, sans-I/O heart of Wijkbot: ``Wijkbot.handle(Incoming) -> list[Outgoing]``.

Order for every message: user and role, rate limit, commands, red flags FIRST (before anything is
interpreted), then NLU, the triage dialogue, and an answer from the social map or the knowledge
articles. No network, no sleeping: channels do the I/O. Logs carry event names, never message text.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import traceback
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import feedback
from bot.actions import (
    Action,
    Agenda,
    Announce,
    Answer,
    Capacity,
    Card,
    Change,
    Check,
    DontKnow,
    Followup,
    ForgedButton,
    Forget,
    Handoff,
    Human,
    Outcome,
    Report,
    Rsvp,
    SafetyAnswer,
    Subscribe,
    parse_button,
)
from bot.floor import limits
from bot.floor.clock import Clock, SystemClock, local_date
from bot.floor.config import Settings
from bot.floor.messages import Button, Incoming, Outgoing
from bot.floor.models import TOPICS, Conversation, User, count_all
from bot.floor.network import finish_link, redeem_invite, start_link, subscribe, topics_of, unsubscribe
from bot.floor.texts import catalogue, say
from bot.flows import Turn, commands
from bot.flows.agenda import AgendaChat
from bot.flows.announce import AnnounceChat
from bot.flows.handoff import HandoffChat
from bot.flows.providers import EXTRA_HITS, ProviderChat, rank_by_room, report_button, standing_line
from intents import languages
from intents.language import dutch
from intents.nlu import NLU, default_nlu
from intents.safety import Safety, safety
from intents.triage import (
    ESCALATION_STREAM,
    Dialogue,
    TriageState,
    dialogue,
    is_vague,
    judge_stream,
    next_question,
    search_text,
)
from jobs.maintenance import forget_person
from knowledge import Knowledge, knowledge
from socialekaart.search import UNKNOWN_KIND, Filters, MapSearch

log = logging.getLogger(__name__)
MAX_TEXT = 2000
_POSTCODE = re.compile(r"^\s*([1-9]\d{3})\s?([a-zA-Z]{2})?\s*$")


class Pending:
    """A part of the bot made once, by the warm-up thread or by the first message that needs it, whichever
    comes first; the other waits for it. A failure is kept and raised at every use (not swallowed)."""

    def __init__(self, name: str, make: Callable[[], Any]):
        self.name = name
        self._make = make
        self._lock = threading.Lock()
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    @property
    def ready(self) -> bool:
        return self._done

    def get(self) -> Any:
        if not self._done:
            with self._lock:
                if not self._done:
                    try:
                        self._value = self._make()
                    except Exception as exc:
                        self._error = exc
                    self._done = True
        if self._error is not None:
            raise self._error
        return self._value


class WarmUp:
    """What a message may need beyond the safety check (NLU, knowledge index, map index, language models),
    made in order in one background thread started after the first prompt is shown (`start`), so that it
    does not compete with the greeting for the interpreter. A message that needs a part waits for it."""

    def __init__(self) -> None:
        self.steps: list[Pending] = []
        self.thread: threading.Thread | None = None

    def add(self, name: str, make: Callable[[], Any], *, first: bool = False) -> Pending:
        step = Pending(name, make)
        self.steps.insert(0 if first else len(self.steps), step)
        return step

    def start(self) -> threading.Thread:
        if self.thread is None:
            thread = threading.Thread(target=self.run, name="warm-up", daemon=True)
            thread.start()
            self.thread = thread  # started before it is seen: `wait` may join it at once
        return self.thread

    def run(self) -> None:
        for step in self.steps:
            try:
                step.get()
            except Exception as exc:  # raised again where the part is used; no message text here
                log.error("warm-up of %s failed: %s", step.name, type(exc).__name__)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the warm-up started by `start`; True when it is done (or was never started)."""
        if self.thread is not None:
            self.thread.join(timeout)
            return not self.thread.is_alive()
        return True


def _given(value, kind: type) -> Callable[[], Any] | None:
    """A part given to Wijkbot: the thing itself, or a function that makes it (called by the warm-up)."""
    if value is None:
        return None
    if isinstance(value, kind) or not callable(value):
        return lambda: value
    return value


def clean_text(text: str) -> str:
    """Printable text only: control characters and binary junk go, whitespace is folded."""
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    return " ".join(text.split())


class Wijkbot:
    def __init__(
        self,
        database,
        *,
        clock: Clock | None = None,
        settings: Settings | None = None,
        nlu: NLU | Callable[[], NLU] | None = None,
        red_flags: Safety | None = None,
        articles: Knowledge | Callable[[], Knowledge] | None = None,
        dialogue_data: Dialogue | None = None,
    ):
        """Only what the first reply needs is made here: the database, the texts and the safety check (red
        flags are checked first on every typed message). The rest is made by `warm_up` (call
        `warm_up.start()` once the first prompt is shown), or at the first message that needs it. `nlu` and
        `articles` may be given as functions that make them."""
        catalogue()  # a broken bot/floor/data/*.yaml stops here (CatalogueError), not at a resident's message
        self.database = database
        self.clock = clock or SystemClock()
        self.settings = settings or Settings()
        # the map's index: kept in the data dir; after an import it is remade in a thread, the old one answering
        self.map = MapSearch(database, data_dir=self.settings.data_dir, background=True)
        self.safety = red_flags or safety()
        cache_dir = self.settings.cache_dir
        self.warm_up = WarmUp()
        # the Dutch lemma table: the safety check of a resident's first message reads their words with it
        self.warm_up.add("dutch", lambda: dutch().load_tables())
        self._nlu = self.warm_up.add("nlu", _given(nlu, NLU) or (lambda: default_nlu(cache_dir)))
        # lingua's models (about a second), not while a resident waits for their first answer
        self.warm_up.add("languages", lambda: languages.warm_up(background=False))
        self._knowledge = self.warm_up.add("knowledge", _given(articles, Knowledge) or knowledge)
        self.warm_up.add("map", self.map.index)
        self.dialogue = dialogue_data or dialogue()
        self.agenda = AgendaChat(self.dialogue)
        self.announce = AnnounceChat(self.dialogue)
        self.handoff = HandoffChat(self.settings)
        self.providers = ProviderChat(self.dialogue)
        self.commands = self._command_handlers()
        self.buttons = self._button_handlers()
        self.on_agenda_change: Callable[[], None] | None = None  # `wijkbot run` points this at the scheduler

    @property
    def nlu(self) -> NLU:
        return self._nlu.get()

    @property
    def knowledge(self) -> Knowledge:
        return self._knowledge.get()

    # --- the handler ------------------------------------------------------------------------------

    def handle(self, incoming: Incoming) -> list[Outgoing]:
        """One message in, the replies out. A failure anywhere becomes a polite reply with an error id
        (logged with the kind of error and where, never the text); an emergency in the text is still
        answered, from the safety module alone."""
        try:
            return self._handle(incoming)
        except Exception as exc:  # the last line of defence: every message gets a reply
            error_id = secrets.token_hex(4)
            where = traceback.extract_tb(exc.__traceback__)[-1]
            log.error(
                "handling failed, error id %s: %s at %s:%s",
                error_id,
                type(exc).__name__,
                Path(where.filename).name,
                where.lineno,
            )
            reply = self.dialogue.texts["failed"].format(error_id=error_id)
            try:
                found = self.safety.assess(clean_text(incoming.text or "")[:MAX_TEXT], self.clock.now())
                if found.escalate_to:
                    reply = self.safety.reply(found.escalate_to, found.language, self.clock.now()) + "\n\n" + reply
            except Exception:
                log.error("safety fallback failed, error id %s", error_id)
            return [self._out(incoming, reply)]

    def _handle(self, incoming: Incoming) -> list[Outgoing]:
        now = self.clock.now()
        with self.database.session() as session:
            session.info["group"] = incoming.group
            user = self._user(session, incoming, now)
            conversation, fresh, expired = self._conversation(session, incoming, user, now)
            state = TriageState.from_dict(conversation.state)
            if expired:
                state = TriageState()
            replies = self._respond(session, incoming, user, state, now)
            count_all(session, now.date(), session.info.pop("usage", {}))  # anonymous: they stay after /vergeet
            if replies is None:  # the user was forgotten: nothing of them may stay
                session.commit()
                self.database.scrub()
                return [self._out(incoming, self.dialogue.texts["forgotten"])]
            if fresh or expired or not conversation.state.get("_disclosed"):
                t = self.dialogue.texts_for(state.lang)
                prefix = t["disclosure"] + (" " + t["expired"] if expired else "")
                if session.info.get("escalated"):  # in an emergency what to do comes first, who we are after
                    replies[0] = (replies[0][0] + "\n\n" + prefix, replies[0][1])
                else:
                    replies[0] = (prefix + "\n\n" + replies[0][0], replies[0][1])
            conversation.state = {**state.as_dict(), "_disclosed": True}
            conversation.updated_at = now
            session.commit()
            if session.info.get("scrub"):  # personal data were deleted (a card closed): no copy stays in a file
                self.database.scrub()
            if session.info.get("agenda_changed") and self.on_agenda_change:
                self.on_agenda_change()
        return [self._out(incoming, text, buttons) for text, buttons in replies]

    def _respond(  # noqa: C901 - the order safety, flows, reply, storage is the product's rule; kept in one sequence
        self,
        session: Session,
        incoming: Incoming,
        user: User,
        state: TriageState,
        now: datetime,
    ) -> list[tuple[str, list[Button]]] | None:
        t = self.dialogue.texts_for(state.lang)
        text = clean_text(incoming.text or "")
        note = ""
        if len(text) > MAX_TEXT:
            text, note = text[:MAX_TEXT], t["too_long"] + "\n\n"
        try:
            button = parse_button(incoming.button) if incoming.button is not None else None
        except ForgedButton:  # forged, or from a version long gone: one clear line, nothing else happens
            log.info("button refused")
            self._count(session, now, "button:refused")
            if not text:
                return [(t["button_unknown"], [])]
            button = None  # text came with it: the text is read (and checked for red flags) as typed
        if not limits.message_allowed(user, now):
            log.info("rate limited")
            found = self.safety.assess(text, now) if text and not button else None
            if found and found.escalate_to:  # too many messages, but an emergency is never held back
                return self._escalate(session, found.escalate_to, found.language, state, now)
            return [(t["rate_limited"], [])]
        if isinstance(button, SafetyAnswer):
            return self._safety_pressed(session, button, user, state, now)
        if text and not button:  # 1. red flags, before anything else, on every typed text
            if state.pending == "safety":
                return self._safety_answered(session, text, note, user, state, now)
            found = self.safety.assess(text, now)
            if not (found.escalate_to or found.check) and state.need:
                together = self.safety.assess(f"{state.need}\n{text}", now)  # danger told over several messages
                if together.escalate_to or (together.check and together.check not in state.cleared):
                    found = together
            if found.escalate_to:
                return self._escalate(session, found.escalate_to, found.language, state, now)
            if found.check:
                return self._ask_safety(session, found, text, state, now)
        return self._interpret(session, text, note, button, user, state, now)

    def _interpret(  # noqa: C901 - the dispatch order of a message (command, flow, button, need) in one visible sequence
        self,
        session: Session,
        text: str,
        note: str,
        button: Action | None,
        user: User,
        state: TriageState,
        now: datetime,
    ) -> list[tuple[str, list[Button]]] | None:
        """Everything after the safety check: commands, the flows waiting for an answer, buttons, and a
        need or question in the resident's own words."""
        t = self.dialogue.texts_for(state.lang)
        # a typed answer to the confirm question of /vergeet counts like the button
        if state.pending == "forget" and not button and text.lower() in ("ja", "ja, wis alles", "yes"):
            button = Forget(kind="forget", choice="yes")
        if text.startswith("/") and not button:
            return self._command(session, text, user, state, now)
        if session.info.get("group") and isinstance(button, Announce | Agenda | Handoff | Card | Outcome):
            return [(t["private_only"], [])]
        if state.pending == "announce_text" and text and not button and user.at_least("coordinator"):
            return self.announce.typed(Turn(session, user, state, now), text)
        if (state.pending or "").startswith("agenda_") and text and not button:
            return self.agenda.typed(Turn(session, user, state, now), text)
        if (state.pending or "").startswith("handoff_") and not button:  # empty text too: asked again
            return self.handoff.typed(Turn(session, user, state, now), text)
        if ((state.pending or "").startswith("change_") or state.pending == "report_text") and text and not button:
            return self.providers.typed(Turn(session, user, state, now), text)
        if button:
            return self._button(session, button, user, state, now)
        if not text:
            return [(t["empty"], [])]
        if not any(c.isalnum() for c in text):
            return [(t["no_words"], [])]
        # 2. a typed answer to a pending question
        if state.pending == "postcode":
            m = _POSTCODE.match(text)
            if m:
                state.postcode = (m.group(1) + (m.group(2) or "")).upper()
                state.pending = None
                return self._continue(session, user, state, now)
        if state.pending in ("stream", "topic", "for_whom", "postcode"):
            state.pending = None  # the user ignored the question and wrote more: add it to the need
        else:
            state.reset()  # a new question
            state.lang = self._language(text)
            t = self.dialogue.texts_for(state.lang)
        # 3. what kind of message is it
        parse = self.nlu.parse(text)
        self._count(session, now, f"intent:{parse.intent}")
        log.info("intent %s", parse.intent)
        if parse.intent == "smalltalk" and is_vague(self.map.index(), text):
            return [(note + self._smalltalk(text, state.lang), [])]
        if parse.intent == "knowledge_question":
            article = self.knowledge.answer(text)
            if article:
                return [
                    (note + f"{article.title}\n{article.answer}\n" + t["knowledge_more"].format(link=article.link), [])
                ]
        if parse.intent == "who_does_what" or (user.at_least("professional") and parse.intent != "need_help"):
            return [(note + self._who_does_what(text, user, self._sees_contacts(session, user), state.lang), [])]
        # 4. triage: clarify, then answer
        state.need = f"{state.need} {text}".strip()
        entities = parse.entities
        state.postcode = state.postcode or entities.get("postcode")
        state.for_whom = state.for_whom or entities.get("for_whom")
        replies = self._continue(session, user, state, now, parse=parse if state.need == text else None)
        if note:
            replies[0] = (note + replies[0][0], replies[0][1])
        return replies

    # --- safety: escalation and the direct safety question -------------------------------------------

    def _escalate(
        self, session: Session, resource: str, language: str, state: TriageState, now: datetime, prefix: str = ""
    ) -> list[tuple[str, list[Button]]]:
        self._count(session, now, f"escalation:{resource}", f"stream:{ESCALATION_STREAM[resource]}")
        log.info("escalated to %s", resource)
        session.info["escalated"] = True
        state.reset()
        return [(prefix + self.safety.reply(resource, language, now), [self._human_button(state.lang)])]

    def _ask_safety(self, session: Session, found, text: str, state: TriageState, now: datetime):
        """Ask one direct question (113 advises asking about suicide directly); the message waits."""
        self._count(session, now, f"safety_check:{found.check}")
        log.info("safety question for %s", found.check)
        state.safety = {
            "resource": found.check,
            "language": found.language,
            "asked_at": now.isoformat(),
            "text": text,
            "pending": state.pending,
        }
        state.pending = "safety"
        return [
            (
                self.safety.question(found.check, found.language, found.about_other),
                self._safety_buttons(found.check, found.language),
            )
        ]

    def _safety_buttons(self, resource: str, language: str) -> list[Button]:
        return [
            *(
                Button(label=self.safety.button(key, language), value=f"safety:{key}:{resource}")
                for key in ("yes", "no", "dont_know")
            ),
            self._human_button("en" if language == "en" else "nl"),
        ]

    def _safety_pressed(self, session: Session, pressed: SafetyAnswer, user: User, state: TriageState, now: datetime):
        choice, resource = pressed.choice, pressed.resource
        if resource not in self.safety.resources:
            return [(self.dialogue.texts["button_unknown"], [])]
        language = (state.safety or {}).get("language", "nl")
        self._count(session, now, f"safety_answer:{choice}")
        if choice == "no":
            return self._resume_after_safety(session, user, state, now)
        return self._escalate(session, resource, language, state, now)

    def _safety_answered(self, session: Session, text: str, note: str, user: User, state: TriageState, now: datetime):
        """A typed reply to the safety question: a short, clear no goes on with the waiting message; yes,
        a doubt, a new danger or anything else that is no answer escalates (and a new question is then
        answered too)."""
        asked = state.safety or {}
        resource, language = asked.get("resource", "112"), asked.get("language", "nl")
        found = self.safety.assess(text, now)
        if found.escalate_to:
            return self._escalate(session, found.escalate_to, found.language, state, now)
        answer = self.safety.answer(text)
        self._count(session, now, f"safety_answer:{answer}")
        if answer == "no":
            return self._resume_after_safety(session, user, state, now)
        if answer == "yes":
            return self._escalate(session, resource, language, state, now)
        prefix = self.safety.unanswered(language) + "\n\n"
        replies = self._escalate(session, resource, language, state, now, prefix=prefix)
        return replies + (self._interpret(session, text, note, None, user, state, now) or [])

    def _resume_after_safety(self, session: Session, user: User, state: TriageState, now: datetime):
        asked = state.safety or {}
        state.pending, state.safety = asked.get("pending"), {}
        safe = self.safety.safe_text(asked.get("language", "nl"))
        if not asked.get("text"):  # the button of a question that is no longer waiting
            return [(safe, [])]
        replies = self._interpret(session, asked["text"], "", None, user, state, now) or []
        state.cleared = sorted({*state.cleared, asked.get("resource", "")} - {""})  # asked, answered: not again
        return [(safe, []), *replies]

    def _continue(
        self, session: Session, user: User, state: TriageState, now: datetime, parse=None
    ) -> list[tuple[str, list[Button]]]:
        index = self.map.index()
        parse = parse or self.nlu.parse(state.need or "hulp")  # classify the whole need, not one answer
        stream, confidence = judge_stream(parse.stream_scores, index, state.need)
        question = next_question(self.dialogue, state, parse, index, 1.0 if state.stream else confidence)
        if question:
            state.asked.append(question.key)
            state.pending = question.key
            return [
                (
                    question.text,
                    [
                        *(Button(label=label, value=v) for v, label in question.options),
                        *self._always_buttons(state.lang),
                    ],
                )
            ]
        state.stream = state.stream or stream
        self._count(session, now, f"stream:{state.stream}")
        return [self._answer(session, state, user, now)]

    def _answer(self, session: Session, state: TriageState, user: User, now: datetime) -> tuple[str, list[Button]]:
        t = self.dialogue.texts_for(state.lang)
        index = self.map.index()
        query = search_text(self.dialogue, state)
        need, hits = index.search_for_need(
            query,
            lambda kind: feedback.prior(session, kind),
            Filters(postcode=state.postcode),
            limit=3 + EXTRA_HITS,  # alternatives with room go before full services (bot/flows/providers.py)
            now=now,
            contacts=self._sees_contacts(session, user),
        )
        hits, standing, moved = rank_by_room(session, hits, 3, local_date(now))
        need = need or UNKNOWN_KIND
        state.need, state.postcode = "", None  # answered: the resident's words and address are not kept
        state.pending = "followup"
        state.answered = {"need": need, "services": [h.id for h in hits]}
        if not hits:
            return t["answer_none"], [self._human_button(state.lang)]
        lines = [t["answer_intro"]]
        if moved:
            lines.append(say("providers.answer_room_first", state.lang))
        for n, hit in enumerate(hits, 1):
            doc = index.doc(hit.id)
            reach = [
                x
                for x in (
                    doc.reach.get("phone") and t["reach_phone"].format(phone=doc.reach["phone"]),
                    doc.reach.get("address"),
                    doc.reach.get("url"),
                )
                if x
            ]
            lines.append(f"{n}. {hit.name} ({hit.organization})")
            why = hit.describe(t["why_said"], t["why_topic"], t["why_distance"], "." if state.lang == "en" else ",")
            if why:
                lines.append(f"   {why}")
            if reach:
                lines.append("   " + " · ".join(reach))
            if line := standing_line(standing[hit.id], state.lang):
                lines.append("   " + line)
            if self._sees_contacts(session, user) and doc.contacts:
                lines.append("   " + self._contacts(doc.contacts))
        lines.append("")
        lines.append(t["followup"])
        b = self.dialogue.buttons_for(state.lang)
        handoff = [] if session.info.get("group") else [self.handoff.start_button(state.lang)]
        return "\n".join(lines), [
            Button(label=b["yes"], value="followup:yes"),
            Button(label=b["no"], value="followup:no"),
            Button(label=b["not_fitting"], value="followup:wrong"),
            *handoff,
            report_button(state.lang),
            self._human_button(state.lang),
        ]

    def _who_does_what(self, text: str, user: User, sees_contacts: bool, lang: str = "nl") -> str:
        t = self.dialogue.texts_for(lang)
        index = self.map.index()  # one index for the hits and their details, even if a new one is swapped in
        hits = index.search(text, limit=3, now=self.clock.now(), contacts=sees_contacts)
        if not hits:
            return t["answer_none"]
        lines = [t["professional_intro"]]
        for n, hit in enumerate(hits, 1):
            doc = index.doc(hit.id)
            lines.append(f"{n}. {hit.name} ({hit.organization})")
            if sees_contacts:
                if doc.contacts:
                    lines.append("   " + self._contacts(doc.contacts))
            elif doc.reach.get("phone"):
                lines.append("   " + t["reach_phone"].format(phone=doc.reach["phone"]))
        if not sees_contacts:
            lines.append(t["contacts_hidden"] if not user.at_least("professional") else t["contacts_private"])
        return "\n".join(lines)

    @staticmethod
    def _contacts(contacts: list[dict]) -> str:
        return "; ".join(
            " ".join(
                x
                for x in (c.get("name"), f"({c['title']})" if c.get("title") else None, c.get("phone"), c.get("email"))
                if x
            )
            for c in contacts
        )

    # --- commands and buttons ---------------------------------------------------------------------

    def _command(self, session: Session, text: str, user: User, state: TriageState, now: datetime):
        """A command from the table of bot/flows/commands.py: who may use it, where, and its handler."""
        t = self.dialogue.texts_for(state.lang)
        command, rest = commands.find(text)
        if command is None:
            return [(t["unknown_command"], [])]
        if session.info.get("group") and (command.private or (command.name == "agenda" and rest)):
            log.info("private command refused in a group")
            return [(t["private_only"], [])]
        if not user.at_least(command.role):
            log.info("coordinator command refused")
            return [(t["coordinator_only"], [])]
        return self.commands[command.name](Turn(session, user, state, now), rest)

    def _command_handlers(self) -> dict[str, Callable[[Turn, str], list[tuple[str, list[Button]]]]]:
        handlers = {
            "start": self._start,
            "help": self._help,
            "opnieuw": self._restart,
            "stop": self._stop,
            "vergeet": self._forget_ask,
            "abonneren": self._subscribe,
            "afmelden": self._unsubscribe,
            "aanmelden": self._invite,
            "koppel": self._link,
            "agenda": self.agenda.command,
            "aankondiging": self.announce.command,
            "terugkoppeling": self._feedback_report,
            "doorverwijzingen": self.handoff.report,
            "aanbod": self.providers.command,
        }
        if set(handlers) != {c.name for c in commands.COMMANDS}:
            raise RuntimeError("bot/flows/commands.py and the core's handlers differ")
        return handlers

    def _start(self, turn: Turn, rest: str):
        turn.state.reset()
        return [(self.dialogue.texts_for(turn.state.lang)["welcome"], [])]

    def _help(self, turn: Turn, rest: str):
        t = self.dialogue.texts_for(turn.state.lang)
        lines = commands.help_lines(turn.user, turn.state.lang)
        return [("\n".join([t["help"], "", t["help_commands"], *lines]), [])]

    def _restart(self, turn: Turn, rest: str):
        turn.state.reset()
        return [(self.dialogue.texts_for(turn.state.lang)["restart"], [])]

    def _stop(self, turn: Turn, rest: str):
        turn.state.reset()
        return [(self.dialogue.texts_for(turn.state.lang)["stop"], [])]

    def _forget_ask(self, turn: Turn, rest: str):
        turn.state.pending = "forget"
        t, b = self.dialogue.texts_for(turn.state.lang), self.dialogue.buttons_for(turn.state.lang)
        return [
            (
                t["forget_confirm"],
                [Button(label=b["forget_yes"], value="forget:yes"), Button(label=b["forget_no"], value="forget:no")],
            )
        ]

    def _feedback_report(self, turn: Turn, rest: str):
        t = self.dialogue.texts
        rows = feedback.report(turn.session)
        if not rows:
            return [(t["feedback_none"], [])]
        lines = [
            say(
                "feedback.line",
                need=r["need"],
                helped=r["helped"],
                not_helped=r["not_helped"],
                not_fitting=r["not_fitting"],
            )
            for r in rows[:15]
        ]
        return [("\n".join([t["feedback_report"], *lines]), [])]

    def _button(self, session: Session, pressed: Action, user: User, state: TriageState, now: datetime):
        """A pressed button, by its kind (the table of `_button_handlers`)."""
        handler = self.buttons.get(type(pressed))
        if handler is None:
            return [(self.dialogue.texts_for(state.lang)["button_unknown"], [])]
        return handler(Turn(session, user, state, now), pressed)

    def _button_handlers(self) -> dict[type, Callable[[Turn, Any], list[tuple[str, list[Button]]] | None]]:
        return {
            Forget: self._forget_pressed,
            Subscribe: self._subscribe_pressed,
            Followup: self._followup,
            Answer: self._answer_pressed,
            DontKnow: lambda turn, pressed: self._dont_know(turn),
            Human: lambda turn, pressed: [
                (
                    self.dialogue.texts_for(turn.state.lang)["human"].format(human_contact=self.settings.human_contact),
                    [],
                )
            ],
            Announce: lambda turn, pressed: self.announce.pressed(turn, pressed.choice),
            Agenda: self.agenda.pressed,
            Rsvp: lambda turn, pressed: self.agenda.rsvp(turn.session, pressed, turn.user, turn.now),
            Handoff: self.handoff.pressed,
            Card: self.handoff.card,
            Outcome: self.handoff.outcome,
            Check: self.providers.checked,
            Change: self.providers.change_pressed,
            Capacity: self.providers.capacity_pressed,
            Report: self.providers.report_pressed,
        }

    def _forget_pressed(self, turn: Turn, pressed: Forget):
        if pressed.choice == "yes" and turn.state.pending == "forget":
            self.forget(turn.session, turn.user)
            return None
        turn.state.pending = None
        return [(self.dialogue.texts_for(turn.state.lang)["not_forgotten"], [])]

    def _subscribe_pressed(self, turn: Turn, pressed: Subscribe):
        subscribe(turn.session, turn.user, pressed.topic)
        return [
            (
                self.dialogue.texts_for(turn.state.lang)["subscribed"].format(
                    topic=say(f"topics.{pressed.topic}", turn.state.lang)
                ),
                [],
            )
        ]

    def _followup(self, turn: Turn, pressed: Followup):
        state = turn.state
        if state.pending == "followup" and state.answered.get("services"):  # once per answer
            feedback.record(turn.session, state.answered["need"], state.answered["services"], pressed.choice)
        state.reset()
        text = self.dialogue.texts_for(state.lang)[f"followup_{pressed.choice}"]
        return [(text, [] if pressed.choice == "yes" else [self._human_button(state.lang)])]

    def _answer_pressed(self, turn: Turn, pressed: Answer):
        """An answer to a clarifying question: only to the question asked, and only one of its options."""
        state = turn.state
        if pressed.choice == "dont_know":
            return self._dont_know(turn)
        if state.pending != pressed.kind:
            return [(self.dialogue.texts_for(state.lang)["button_unknown"], [])]
        state.pending = None
        if f"{pressed.kind}:{pressed.choice}" not in self.dialogue.answers(pressed.kind):
            state.pending = pressed.kind  # not one of the question's answers: forged or from an old question
            return [(self.dialogue.texts_for(state.lang)["button_unknown"], [])]
        setattr(state, pressed.kind, pressed.choice)
        return self._continue(turn.session, turn.user, state, turn.now)

    def _dont_know(self, turn: Turn):
        turn.state.pending = None
        return self._continue(turn.session, turn.user, turn.state, turn.now)

    # --- the network: roles, linked accounts, subscriptions ------------------------------------------

    def _code_locked(self, turn: Turn, rest: str) -> bool:
        if rest and limits.codes_locked(turn.session, turn.user.id, turn.now):
            log.info("code refused: too many wrong codes")
            return True
        return False

    def _invite(self, turn: Turn, rest: str):
        t = self.dialogue.texts
        if self._code_locked(turn, rest):
            return [(t["code_locked"], [])]
        if not rest:
            return [(t["invite_usage"], [])]
        invite = redeem_invite(turn.session, turn.user, rest[:64], turn.now)
        if invite is None:
            log.info("invite refused")
            limits.wrong_code(turn.session, turn.user.id, turn.now)
            return [(t["invite_bad"], [])]
        log.info("invite redeemed for role %s", invite.role)
        reply = t["invite_ok"].format(role=t[f"role_{invite.role}"])
        if "meetings" in topics_of(turn.session, turn.user):
            return [(reply, [])]
        return [
            (
                reply + " " + t["invite_offer_meetings"],
                [Button(label=self.dialogue.buttons["yes"], value="subscribe:meetings")],
            )
        ]

    def _link(self, turn: Turn, rest: str):
        t = self.dialogue.texts
        if self._code_locked(turn, rest):
            return [(t["code_locked"], [])]
        if not rest:
            return [(t["link_code"].format(code=start_link(turn.user, turn.now)), [])]
        other = finish_link(turn.session, turn.user, rest[:64], turn.now)
        if other is None:
            limits.wrong_code(turn.session, turn.user.id, turn.now)
        return [(t["link_ok"] if other else t["link_bad"], [])]

    def _subscribe(self, turn: Turn, rest: str):
        t = self.dialogue.texts
        topic = rest.lower() or None
        if topic is None or topic not in TOPICS:
            return [
                (
                    t["subscribe_choose"],
                    [Button(label=say(f"topics.{key}").capitalize(), value=f"subscribe:{key}") for key in TOPICS],
                )
            ]
        subscribe(turn.session, turn.user, topic)
        return [(t["subscribed"].format(topic=say(f"topics.{topic}")), [])]

    def _unsubscribe(self, turn: Turn, rest: str):
        t = self.dialogue.texts
        topic = rest.lower() or None
        if topic is not None and topic not in TOPICS:
            return [(t["subscribe_choose"], [])]
        unsubscribe(turn.session, turn.user, topic)
        return [(t["unsubscribed"], [])]

    def forget(self, session: Session, user: User) -> None:
        """Erase everything stored about this person (AVG/GDPR art. 17): every linked account, every
        conversation they had (private and in groups), their subscriptions, answers, outbox messages,
        throttles and the buttons a channel remembered for them; then no copy is left in a file
        (Database.scrub, after the commit). Anonymous statistics hold nothing personal and stay."""
        forget_person(session, user)
        session.info["scrub"] = True
        log.info("person erased on request")

    # --- helpers ---------------------------------------------------------------------------------

    def _always_buttons(self, lang: str = "nl") -> list[Button]:
        return [Button(label=self.dialogue.buttons_for(lang)["dont_know"], value="dont_know"), self._human_button(lang)]

    def _human_button(self, lang: str = "nl") -> Button:
        return Button(label=self.dialogue.buttons_for(lang)["human"], value="human")

    @staticmethod
    def _language(text: str) -> str:
        """English replies for a resident who writes English; Dutch for everyone else (docs/dialogue.md).
        One word says too little ("hallo" is Dutch, English and German): Dutch, the wijk's language."""
        return "en" if len(text.split()) >= 2 and languages.detect(text) == "en" else "nl"

    def _smalltalk(self, text: str, lang: str = "nl") -> str:
        t = self.dialogue.texts_for(lang)
        low = text.lower()
        if any(w in low for w in ("dank", "bedankt", "thanks", "thank")):
            return t["smalltalk_thanks"]
        if any(w in low for w in ("doei", "dag!", "tot ziens", "bye", "tot later")):
            return t["smalltalk_bye"]
        if any(w in low for w in ("robot", "bot", "wie ben", "mens", "computer")):
            return t["smalltalk_bot"]
        return t["smalltalk_hello"]

    @staticmethod
    def _sees_contacts(session: Session, user: User) -> bool:
        """Contact persons: for verified professionals, and only in a private chat (others read a group)."""
        return user.at_least("professional") and not session.info.get("group")

    def _user(self, session: Session, incoming: Incoming, now: datetime) -> User:
        user = session.scalar(
            select(User).where(User.channel == incoming.channel, User.channel_user_id == incoming.user_id)
        )
        if user is None:
            user = User(
                channel=incoming.channel,
                channel_user_id=incoming.user_id,
                role="resident",
                created_at=now,
                last_seen_at=now,
            )
            session.add(user)
            session.flush()
        user.last_seen_at = now
        if not incoming.group:  # announcements and reminders go to the private chat, never to a group
            user.chat_id = incoming.chat_id
        return user

    def _conversation(self, session: Session, incoming: Incoming, user: User, now: datetime):
        conversation = session.scalar(
            select(Conversation).where(  # one per person, also in a group chat
                Conversation.channel == incoming.channel,
                Conversation.chat_id == incoming.chat_id,
                Conversation.user_id == user.id,
            )
        )
        if conversation is None:
            conversation = Conversation(
                channel=incoming.channel, chat_id=incoming.chat_id, user_id=user.id, state={}, updated_at=now
            )
            session.add(conversation)
            return conversation, True, False
        timeout = timedelta(minutes=self.settings.conversation_timeout_minutes)
        expired = bool(conversation.state.get("_expired")) or (  # expired and emptied by the scheduler
            now - conversation.updated_at > timeout
            and bool(conversation.state.get("need") or conversation.state.get("pending"))
        )
        return conversation, False, expired

    def _count(self, session: Session, now: datetime, *kinds: str) -> None:
        """Anonymous statistics of this message, written once with the rest (handle)."""
        counts = session.info.setdefault("usage", {})
        for kind in kinds:
            counts[kind] = counts.get(kind, 0) + 1

    @staticmethod
    def _out(incoming: Incoming, text: str, buttons: list[Button] | None = None) -> Outgoing:
        return Outgoing(channel=incoming.channel, chat_id=incoming.chat_id, text=text, buttons=buttons or [])
