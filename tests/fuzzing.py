"""A Hypothesis state machine of people talking to Wijkbot's core (Wijkbot.handle): residents,
professionals and a coordinator, on three channels, in private and in a group chat, two of them linked
accounts of one person. They type realistic, hostile and random text, press the buttons they were
shown and forge others, and time passes (DST included).

After every step: a reply came, nothing failed inside (the polite "dat ging mis" fallback counts as a
crash), no role changed (no code is ever valid here), and the anonymous statistics hold only known
kinds, never the people's words. Used by tests/test_fuzz_core.py (a fixed seed in CI) and
benchmarks/fuzz_core.py (long runs).
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from bot.app import open_database
from bot.core import Wijkbot
from bot.floor.clock import LOCAL_TZ, FixedClock
from bot.floor.config import Settings
from bot.floor.messages import Incoming, Outgoing
from bot.floor.models import UsageStat, User

# who talks: (channel, user id, role, linked person)
ACCOUNTS = [
    ("telegram", "fz-res", "resident", None),
    ("matrix", "@fz-res2:localhost", "resident", None),
    ("console", "fz-res3", "resident", None),
    ("telegram", "fz-pro", "professional", "p-pro"),
    ("matrix", "@fz-pro:localhost", "professional", "p-pro"),
    ("telegram", "fz-coord", "coordinator", None),
    ("matrix", "@fz-coord:localhost", "coordinator", None),
]
GROUPS = {"telegram": "-100777", "matrix": "!group:localhost", "console": None}
STAT_KIND = re.compile(r"^[a-z_]+:[a-z0-9_\-]+$")

REAL = [
    "ik zoek een huisarts",
    "hulp bij schulden",
    "ik ben eenzaam",
    "waar kan ik sporten met anderen?",
    "mijn moeder van 91 woont alleen en valt vaak",
    "ik wil niet meer leven",
    "mijn man slaat me",
    "hij ademt niet meer",
    "hallo",
    "dank je",
    "wie doet wat bij dementie?",
    "7543 AB",
    "ja",
    "nee",
    "weet ik niet",
    "food bank near me",
    "I need a doctor",
    "fysio voor mijn knie",
    "1",
    "2",
    "99",
    "dinsdag 12 januari 14:00",
    "morgen 9.00",
    "90m",
    "99999999999w",
    "999999d",
    "7d, 1d",
    "Wijkpunt",
    "Huisartsenpraktijk De Vlinderhof",
    "iedereen",
    "stop",
]
COMMANDS = [
    "/start",
    "/help",
    "/opnieuw",
    "/stop",
    "/vergeet",
    "/agenda",
    "/agenda nieuw",
    "/agenda deadline",
    "/agenda afzeggen",
    "/agenda verplaatsen",
    "/agenda klaar",
    "/agenda wijzigen",
    "/agenda onzin",
    "/aankondiging",
    "/aankondiging Buurtfeest zaterdag!",
    "/aankondiging status 1",
    "/aankondiging status 99999999999999999999",
    "/aankondiging status ²",
    "/aanmelden",
    "/aanmelden ABCD-EFGH",
    "/koppel",
    "/koppel ZZZZ-ZZZZ",
    "/abonneren",
    "/abonneren events",
    "/afmelden",
    "/afmelden onzin",
    "/terugkoppeling",
    "/onbekend",
    "/",
    "/start@wijkbot",
    "/AGENDA",
]
HOSTILE = [
    "<b>vet</b><script>alert(1)</script>",
    "*vet* _schuin_ [link](http://x) `code`",
    "\x00\x01\x02",
    "🙂" * 50,
    "a" * 5000,
    "ik zoek\n\n\nhulp\t\t",
    "'; DROP TABLE wijkbot_user; --",
    "%s %d {need}",
    "{0.__class__}",
    "\u202eesrever",
    "²³¹",
    "١٢٣",
    "ｆｕｌｌｗｉｄｔｈ",
    "\ufffd\ufffd",
    "",
]
FORGED = [
    "rsvp:²:20270413T1200Z:yes",
    "rsvp:1:20270413T1200Z:yes",
    "rsvp:99999999999:20270413T1200Z:no",
    "agenda:deadline_pick:1",
    "agenda:pick_move:1:20270101T0900Z",
    "agenda:do_move",
    "agenda:save",
    "agenda:repeat:weekly",
    "agenda:duration:60",
    "agenda:remind:none",
    "announce:all",
    "announce:send",
    "stream:care",
    "topic:geld",
    "for_whom:self",
    "stream:<b>",
    "followup:yes",
    "followup:wrong",
    "forget:yes",
    "forget:no",
    "safety:yes:113",
    "safety:no:112",
    "safety:yes:nope",
    "subscribe:events",
    "human",
    "dont_know",
    "nonsense",
    "x" * 500,
    "agenda:new_meeting",
    "agenda:new_deadline",
]


def texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(REAL),
        st.sampled_from(COMMANDS),
        st.sampled_from(HOSTILE),
        st.text(max_size=80),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
        st.builds(lambda a, b: f"{a} {b}", st.sampled_from(REAL), st.sampled_from(HOSTILE)),
    )


@dataclass
class World:
    """One bot and its database, shared by all examples of a run (building it per example costs seconds)."""

    bot: Wijkbot
    clock: FixedClock
    run: int = 0
    roles: dict[tuple[str, str], str] = field(default_factory=dict)
    inputs: int = 0
    crashes: list[str] = field(default_factory=list)
    strict: bool = True  # stop at the first crash (the test); a benchmark counts them all


_world: World | None = None


def world(data_dir: Path, template: Path | None = None) -> World:
    """The shared bot: SQLite with the demo map in `data_dir` (copied from `template` when given)."""
    global _world
    if _world is None:
        settings = Settings(data_dir=data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        if template is not None:
            shutil.copy(template, data_dir / "wijkbot.sqlite3")
        clock = FixedClock(datetime(2027, 3, 27, 12, 0, tzinfo=LOCAL_TZ))  # DST starts the next night
        _world = World(Wijkbot(open_database(settings), clock=clock, settings=settings), clock)
    return _world


class _CrashLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(record.getMessage())


class CoreMachine(RuleBasedStateMachine):
    """Steps of people talking; `world` must have been called before the machine runs."""

    def __init__(self):
        super().__init__()
        assert _world is not None, "call fuzzing.world(...) first"
        self.w = _world
        self.w.run += 1
        self.shown: dict[tuple[str, str, bool], list[str]] = {}  # the buttons each person last saw, per chat
        self.errors = _CrashLog()
        logging.getLogger("bot").addHandler(self.errors)

    @initialize()
    def people(self):
        """This example's people, with their roles; names are fresh so examples do not share state."""
        with self.w.bot.database.session() as session:
            for channel, uid, role, person in ACCOUNTS:
                user_id = f"{uid}-{self.w.run}"
                now = self.w.clock.now()
                session.add(
                    User(
                        channel=channel,
                        channel_user_id=user_id,
                        role=role,
                        created_at=now,
                        last_seen_at=now,
                        chat_id=user_id,
                        person=f"{person}-{self.w.run}" if person else None,
                    )
                )
                self.w.roles[(channel, user_id)] = role
            session.commit()

    def _send(self, who: int, group: bool, text: str = "", button: str | None = None) -> list[Outgoing]:
        channel, uid, _, _ = ACCOUNTS[who]
        user_id = f"{uid}-{self.w.run}"
        chat = GROUPS[channel] if group and GROUPS[channel] else user_id
        incoming = Incoming(
            channel=channel, chat_id=chat, user_id=user_id, text=text, button=button, group=chat != user_id
        )
        self.w.inputs += 1
        replies = self.w.bot.handle(incoming)
        what = f"{channel} {'group' if chat != user_id else 'private'} {button!r} {text[:60]!r}"
        if not replies or not all(r.text.strip() for r in replies):
            self.w.crashes.append(f"no reply: {what}")
        elif any("foutcode" in r.text or "error code" in r.text for r in replies):
            self.w.crashes.append(f"failed inside: {what}: {self.errors.records[-1:]}")
        self.shown[(channel, user_id, chat != user_id)] = [b.value for b in replies[-1].buttons] if replies else []
        if any(r.text == self.w.bot.dialogue.texts["forgotten"] for r in replies):  # erased: back as a resident
            person = ACCOUNTS[who][3]
            for other_channel, other_uid, _, other_person in ACCOUNTS:
                if (other_channel, other_uid) == (channel, uid) or (person and other_person == person):
                    self.w.roles[(other_channel, f"{other_uid}-{self.w.run}")] = "resident"
        return replies

    @rule(who=st.integers(0, len(ACCOUNTS) - 1), group=st.booleans(), text=texts())
    def type_text(self, who, group, text):
        self._send(who, group, text=text)

    @rule(who=st.integers(0, len(ACCOUNTS) - 1), group=st.booleans(), pick=st.integers(0, 20))
    def press_a_button_shown(self, who, group, pick):
        channel, uid, _, _ = ACCOUNTS[who]
        shown = self.shown.get((channel, f"{uid}-{self.w.run}", group)) or []
        if shown:
            self._send(who, group, button=shown[pick % len(shown)])

    @rule(
        who=st.integers(0, len(ACCOUNTS) - 1),
        group=st.booleans(),
        value=st.one_of(st.sampled_from(FORGED), st.text(max_size=60)),
    )
    def press_a_forged_button(self, who, group, value):
        self._send(who, group, button=value)

    @rule(minutes=st.sampled_from([1, 5, 31, 60 * 13, 60 * 24 * 3]))
    def time_passes(self, minutes):
        self.w.clock.advance(timedelta(minutes=minutes))

    @invariant()
    def nothing_leaks(self):
        with self.w.bot.database.session() as session:
            kinds = list(session.scalars(select(UsageStat.kind)))
            roles = {
                (u.channel, u.channel_user_id): u.role
                for u in session.scalars(select(User).where(User.channel_user_id.endswith(f"-{self.w.run}")))
            }
        bad = [k for k in kinds if not STAT_KIND.match(k) or len(k) > 64]
        if bad:
            self.w.crashes.append(f"user text in statistics: {bad[:3]}")
        for key, role in roles.items():
            if key in self.w.roles and role != self.w.roles[key]:
                self.w.crashes.append(f"role changed: {key} {self.w.roles[key]} -> {role}")
        assert not (self.w.strict and self.w.crashes), self.w.crashes[:5]

    def teardown(self):
        logging.getLogger("bot").removeHandler(self.errors)
