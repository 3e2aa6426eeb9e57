"""Every pressed button, parsed into a typed action before any handler sees it.

A button value travels through the chat network and comes back as text that anyone can forge
(Telegram callback data, a Matrix reply, a typed number in the console). So the value is checked
here once, by a pydantic schema: printable ASCII only, at most 128 characters, a known kind, known
choices, ids as bounded numbers and occurrence stamps as real dates. What does not parse is a
`ForgedButton`, which the core answers with one clear line. Handlers get the typed fields and never
split strings themselves.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

MAX_VALUE = 128
MAX_ID = 2**31 - 1  # an INTEGER column holds no more
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")  # no spaces, no control characters, no non-ASCII digits
_WORD = r"^[a-z0-9][a-z0-9_-]{0,39}$"

Id = Annotated[int, Field(ge=1, le=MAX_ID, strict=False)]
Word = Annotated[str, Field(pattern=_WORD)]
_ID = TypeAdapter(Id)


class ForgedButton(ValueError):
    """A button value that no version of Wijkbot sent."""


def _stamp(value: str) -> str:
    try:
        datetime.strptime(value, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError("not an occurrence stamp") from None
    return value


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SafetyAnswer(_Action):
    kind: Literal["safety"]
    choice: Literal["yes", "no", "dont_know"]
    resource: Word


class Forget(_Action):
    kind: Literal["forget"]
    choice: Literal["yes", "no"]


class Announce(_Action):
    kind: Literal["announce"]
    choice: Literal["residents", "professionals", "all", "send", "cancel"]


AGENDA_PLAIN = (
    "stop",
    "new_meeting",
    "new_deadline",
    "cancel_meeting",
    "move_meeting",
    "deadline_change",
    "do_move",
    "save",
    "location",
    "participants",
    "owners",
    "deadline_do_move",
)
AGENDA_WORD = ("repeat", "duration", "audience", "remind")
AGENDA_ID = ("deadline_done", "deadline_pick", "deadline_move", "deadline_cancel", "deadline_do_cancel")
AGENDA_REF = ("pick_cancel", "pick_move", "do_cancel")


class Agenda(_Action):
    """`agenda:<action>[:<argument>]`: a word for an answer, a deadline id, or an occurrence
    `<series id>:<stamp>`; `deadline_done` without an id opens the list."""

    kind: Literal["agenda"]
    action: Literal[AGENDA_PLAIN + AGENDA_WORD + AGENDA_ID + AGENDA_REF]
    arg: str = ""

    @field_validator("arg")
    @classmethod
    def _arg(cls, value: str, info) -> str:
        action = info.data.get("action")
        if action in AGENDA_PLAIN or (action == "deadline_done" and not value):
            if value:
                raise ValueError("no argument expected")
        elif action in AGENDA_WORD:
            if not re.match(_WORD, value):
                raise ValueError("not an answer")
        elif action in AGENDA_ID:
            _ID.validate_python(_digits(value))
        elif action in AGENDA_REF:
            series, _, stamp = value.partition(":")
            _ID.validate_python(_digits(series))
            _stamp(stamp)
        return value

    @property
    def number(self) -> int:
        return int(self.arg)


class Rsvp(_Action):
    kind: Literal["rsvp"]
    series: Id
    stamp: str
    answer: Literal["yes", "no", "maybe"]

    _check_stamp = field_validator("stamp")(classmethod(lambda cls, v: _stamp(v)))

    @property
    def value(self) -> str:
        return f"{self.series}:{self.stamp}:{self.answer}"


class Subscribe(_Action):
    kind: Literal["subscribe"]
    topic: Literal["events", "wijknieuws", "meetings"]


class Human(_Action):
    kind: Literal["human"]


class Followup(_Action):
    kind: Literal["followup"]
    choice: Literal["yes", "no", "wrong"]


class Answer(_Action):
    """An answer to a clarifying question; the core checks the choice against the question's options."""

    kind: Literal["stream", "topic", "for_whom", "postcode"]
    choice: Word


class DontKnow(_Action):
    kind: Literal["dont_know"]


def _argument(value: str, action: str, *, plain=(), choices=None, numbers=None) -> str:
    """The argument of an `<kind>:<action>[:<argument>]` button, checked by what its action takes: nothing
    (`plain`), one of fixed `choices` per action, a small number of a list shown (`numbers`: action -> its
    highest), or else an id of a table row."""
    if action in plain:
        if value:
            raise ValueError("no argument expected")
    elif action in (choices or {}):
        if value not in choices[action]:
            raise ValueError("not a choice")
    elif action in (numbers or {}):
        if parse_id(value) is None or int(value) > numbers[action]:
            raise ValueError("not a number of the list shown")
    else:
        _ID.validate_python(_digits(value))
    return value


HANDOFF_PLAIN = ("start", "cancel")
HANDOFF_WORD = ("service", "consent", "phone", "time", "need", "confirm")
HANDOFF_ID = ("next", "reply")


class Handoff(_Action):
    """The resident's side of a warm handoff (bot/flows/handoff.py): `handoff:start`, `handoff:cancel`, an
    answer of the wizard `handoff:<step>:<word>`, or `handoff:next|reply:<handoff id>`."""

    kind: Literal["handoff"]
    action: Literal[HANDOFF_PLAIN + HANDOFF_WORD + HANDOFF_ID]
    arg: str = ""

    @field_validator("arg")
    @classmethod
    def _arg(cls, value: str, info) -> str:
        action = info.data.get("action")
        if action in HANDOFF_PLAIN and value:
            raise ValueError("no argument expected")
        if action in HANDOFF_WORD and not re.match(_WORD, value):
            raise ValueError("not an answer")
        if action in HANDOFF_ID:
            _ID.validate_python(_digits(value))
        return value

    @property
    def number(self) -> int:
        return int(self.arg)


class Card(_Action):
    """A professional's (or coordinator's) button under a need card: `card:claim|decline|message:<id>`,
    and the reason of a decline `card:reason:<id>:<reason>`."""

    kind: Literal["card"]
    action: Literal["claim", "decline", "message", "reason"]
    handoff: Id
    reason: Literal["", "full", "not_ours", "area", "other"] = Field(default="", validate_default=True)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str, info) -> str:
        if (info.data.get("action") == "reason") != bool(value):
            raise ValueError("a reason goes with card:reason only")
        return value


class Outcome(_Action):
    """The resident's answer to "Is het gelukt?": `outcome:<helped|busy|not_helped>:<handoff id>`."""

    kind: Literal["outcome"]
    choice: Literal["helped", "busy", "not_helped"]
    handoff: Id


def _id_or_empty(value: str) -> str:
    if value:
        _ID.validate_python(_digits(value))
    return value


class Check(_Action):
    """`check:ok|changed[:<check id>]`: the answer to "Klopt dit nog?" (without an id: opened by /aanbod)."""

    kind: Literal["check"]
    choice: Literal["ok", "changed"]
    check: str = ""

    _check_id = field_validator("check")(classmethod(lambda cls, v: _id_or_empty(v)))

    @property
    def number(self) -> int | None:
        return int(self.check) if self.check else None


CHANGE_FIELDS = ("hours", "phone", "address", "status", "description", "capacity")
CHANGE_STATUSES = ("active", "paused", "stopped")
CHANGE_PLAIN = ("send", "stop")
CHANGE_ID = ("approve", "reject")


class Change(_Action):
    """`change:<action>[:<argument>]`: a provider's change wizard (a service by its number in the list shown,
    what, a status) and a coordinator's decision on a change (`approve`/`reject` with the change's id)."""

    kind: Literal["change"]
    action: Literal["service", "what", "status", "send", "stop", "approve", "reject"]
    arg: str = ""

    @field_validator("arg")
    @classmethod
    def _arg(cls, value: str, info) -> str:
        choices = {"what": CHANGE_FIELDS, "status": CHANGE_STATUSES}
        return _argument(value, info.data.get("action"), plain=CHANGE_PLAIN, choices=choices, numbers={"service": 100})

    @property
    def number(self) -> int:
        return int(self.arg)


class Capacity(_Action):
    """`capacity:open|full|waitlist|nodate`: places in a service, set by its provider."""

    kind: Literal["capacity"]
    choice: Literal["open", "full", "waitlist", "nodate"]


REPORT_REASONS = ("closed", "phone", "moved", "other")


class Report(_Action):
    """`report:start`, `report:service:<n>` (the n-th service of the answer), `report:what:<reason>`,
    `report:stop`: a resident's "Klopt niet: fout in de gegevens"; `report:done:<report id>`: resolved by
    the provider or a coordinator."""

    kind: Literal["report"]
    action: Literal["start", "service", "what", "stop", "done"]
    arg: str = ""

    @field_validator("arg")
    @classmethod
    def _arg(cls, value: str, info) -> str:
        return _argument(
            value,
            info.data.get("action"),
            plain=("start", "stop"),
            choices={"what": REPORT_REASONS},
            numbers={"service": 20},
        )

    @property
    def number(self) -> int:
        return int(self.arg)


Action = Annotated[
    SafetyAnswer
    | Forget
    | Announce
    | Agenda
    | Rsvp
    | Subscribe
    | Human
    | Followup
    | Answer
    | DontKnow
    | Handoff
    | Card
    | Outcome
    | Check
    | Change
    | Capacity
    | Report,
    Field(discriminator="kind"),
]
_ADAPTER = TypeAdapter(Action)
# the parts of a value after its kind, in order; the last field takes the rest (an agenda occurrence has a colon)
_FIELDS = {
    "safety": ("choice", "resource"),
    "forget": ("choice",),
    "announce": ("choice",),
    "agenda": ("action", "arg"),
    "rsvp": ("series", "stamp", "answer"),
    "subscribe": ("topic",),
    "human": (),
    "followup": ("choice",),
    "stream": ("choice",),
    "topic": ("choice",),
    "for_whom": ("choice",),
    "postcode": ("choice",),
    "dont_know": (),
    "handoff": ("action", "arg"),
    "card": ("action", "handoff", "reason"),
    "outcome": ("choice", "handoff"),
    "check": ("choice", "check"),
    "change": ("action", "arg"),
    "capacity": ("choice",),
    "report": ("action", "arg"),
}
_ID_FIELDS = {"rsvp": "series", "card": "handoff", "outcome": "handoff"}


def _digits(value: str) -> str:
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise ValueError("not a number")
    return value


def parse_id(text: str) -> int | None:
    """A typed id (e.g. `/aankondiging status 12`): ASCII digits within an INTEGER column, else None."""
    try:
        return _ID.validate_python(_digits(text.strip()))
    except (ValueError, ValidationError):
        return None


def parse_button(value: str) -> Action:
    """The typed action of a button value; ForgedButton for anything else."""
    if not value or len(value) > MAX_VALUE or not _PRINTABLE.match(value):
        raise ForgedButton("not a button value")
    kind, _, rest = value.partition(":")
    names = _FIELDS.get(kind)
    if names is None:
        raise ForgedButton("unknown kind")
    parts = rest.split(":", len(names) - 1) if names and rest else []
    if len(parts) > len(names) or (not names and rest):
        raise ForgedButton("too many parts")
    fields = dict(zip(names, parts, strict=False))
    number = _ID_FIELDS.get(kind)
    if number in fields:
        try:
            fields[number] = _digits(fields[number])
        except ValueError:
            raise ForgedButton("not a number") from None
    try:
        return _ADAPTER.validate_python({"kind": kind, **fields})
    except ValidationError:
        raise ForgedButton("does not match the schema") from None
