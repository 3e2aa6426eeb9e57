"""Chat flows as tables: a flow is a table of steps, as python-telegram-bot's ConversationHandler makes
a conversation a table of states.

A `Step` names its question (a text key, or a function for a preview), the buttons it offers, how a
typed answer is read, where the answer goes in the draft and which step comes next. `Flow` is the one
small engine that walks any table: it asks, reads a typed or pressed answer, asks again with the
reason when the answer cannot be used, and moves on. The flows themselves are the agenda wizard
(bot/flows/agenda.py) and the coordinator's announcement (bot/flows/announce.py); the commands are a
table too (bot/flows/commands.py). Sans-I/O like the core: a flow returns replies, the core stores
the state (``state.pending`` is ``<flow>_<step>``, the answers so far are ``state.draft``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.floor.messages import Button
from bot.floor.models import User
from intents.triage import TriageState

Reply = tuple[str, list[Button]]


class Invalid(Exception):
    """A typed answer that cannot be used; `message` says why, and the question is asked again."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Turn:
    """One message's context, handed to every function of a step."""

    session: Session
    user: User
    state: TriageState
    now: datetime

    @property
    def draft(self) -> dict:
        return self.state.draft


@dataclass(frozen=True)
class Option:
    """A button of a step: `code` travels in the button value, `value` is what the draft gets."""

    code: str
    label: str
    value: Any = None


def _store_nothing(draft: dict, value: Any) -> None:
    return None


@dataclass(frozen=True)
class Step:
    question: str | Callable[[Turn], str]  # a text key, or the text made from the draft (a preview)
    then: str | Callable[[Turn], str | list[Reply]]  # the next step, or the flow's last replies
    store: str | Callable[[dict, Any], None] = _store_nothing  # a draft key, or how the answer is kept
    typed: Callable[[Turn, str], Any] | None = None  # reads a typed answer (raises Invalid); None: buttons only
    options: Callable[[Turn], list[Option]] = field(default=lambda turn: [])
    button: str = ""  # the action in the button value: the step's name when empty


@dataclass
class Flow:
    """Walks a table of steps. `value(action, code)` builds a button value the way bot.actions parses it."""

    name: str
    steps: Mapping[str, Step]
    texts: Mapping[str, str]
    value: Callable[[str, str], str]
    last: Callable[[Turn], list[Button]] = field(default=lambda turn: [])  # buttons under every question
    use_buttons: str = ""  # said when a question that wants a button gets text

    def step_of(self, state: TriageState) -> str | None:
        step = (state.pending or "").removeprefix(f"{self.name}_")
        return step if state.pending and state.pending.startswith(f"{self.name}_") and step in self.steps else None

    def ask(self, turn: Turn, name: str, before: str = "") -> list[Reply]:
        turn.state.pending = f"{self.name}_{name}"
        step = self.steps[name]
        text = step.question(turn) if callable(step.question) else self.texts[step.question]
        buttons = [Button(label=o.label, value=self.value(step.button or name, o.code)) for o in step.options(turn)]
        return [((before + "\n\n" if before else "") + text, [*buttons, *self.last(turn)])]

    def typed(self, turn: Turn, text: str) -> list[Reply]:
        """A typed answer to the current question."""
        name = self.step_of(turn.state)
        if name is None:
            return []
        step = self.steps[name]
        if step.typed is None:
            return self.ask(turn, name, self.use_buttons)
        try:
            value = step.typed(turn, text)
        except Invalid as exc:
            return self.ask(turn, name, exc.message)
        return self._answered(turn, step, value)

    def pressed(self, turn: Turn, action: str, code: str) -> list[Reply] | None:
        """A pressed answer to the current question; None when it is not one of its buttons."""
        name = self.step_of(turn.state)
        if name is None:
            return None
        step = self.steps[name]
        if (step.button or name) != action:
            return None
        option = next((o for o in step.options(turn) if o.code == code), None)
        return None if option is None else self._answered(turn, step, option.value)

    def _answered(self, turn: Turn, step: Step, value: Any) -> list[Reply]:
        if isinstance(step.store, str):
            turn.draft[step.store] = value
        else:
            step.store(turn.draft, value)
        following = step.then(turn) if callable(step.then) else step.then
        return following if isinstance(following, list) else self.ask(turn, following)
