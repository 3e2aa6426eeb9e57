"""The coordinator's announcement in chat: `/aankondiging [tekst]`, then for whom, a preview, and
Versturen or Annuleren; `/aankondiging status <nummer>` tells how far delivery is. A table of three
steps walked by bot.flows.Flow; the broadcast itself is bot.broadcasts, the same as the CLI's."""

from __future__ import annotations

import logging

from bot.actions import parse_id
from bot.broadcasts import AUDIENCE_NAMES, broadcast_status, create_broadcast
from bot.floor.errors import WijkbotError
from bot.floor.messages import Button
from bot.flows import Flow, Option, Reply, Step, Turn
from intents.triage import Dialogue

log = logging.getLogger(__name__)
MAX_TEXT = 4000


class AnnounceChat:
    def __init__(self, dialogue: Dialogue):
        self.t, self.b = dialogue.texts, dialogue.buttons
        steps = {
            "text": Step("announce_ask_text", then="audience", store="text", typed=lambda turn, text: text[:MAX_TEXT]),
            "audience": Step(
                "announce_ask_audience",
                then="confirm",
                store="audience",
                options=lambda turn: [Option(k, name, k) for k, name in AUDIENCE_NAMES.items()],
            ),
            "confirm": Step(self._preview, then=self._send, options=lambda turn: [Option("send", self.b["send"])]),
        }
        self.flow = Flow(
            "announce", steps, self.t, value=lambda action, code: f"announce:{code}", last=self._cancel_button
        )

    def command(self, turn: Turn, rest: str) -> list[Reply]:
        """`/aankondiging`: coordinators only (the caller checks the role)."""
        if rest.lower().startswith("status"):
            number = parse_id(rest.split()[-1])
            if number is None:
                return [(self.t["announce_status_usage"], [])]
            try:
                status = broadcast_status(turn.session, number)
            except WijkbotError:
                return [(self.t["announce_unknown"], [])]
            return [(self.t["announce_status"].format(**status.as_json()), [])]
        turn.state.reset()
        turn.state.draft = {}
        if rest:  # the text came with the command: it answers the first question
            turn.state.pending = "announce_text"
            return self.flow.typed(turn, rest)
        return self.flow.ask(turn, "text")

    def typed(self, turn: Turn, text: str) -> list[Reply]:
        return self.flow.typed(turn, text)

    def pressed(self, turn: Turn, choice: str) -> list[Reply]:
        if not turn.user.at_least("coordinator"):
            return [(self.t["coordinator_only"], [])]
        step = self.flow.step_of(turn.state)
        if not turn.draft or step is None:
            return [(self.t["announce_none"], [])]
        replies = self.flow.pressed(turn, step, choice) if choice != "cancel" else None
        if replies is None:
            turn.state.reset()
            return [(self.t["announce_cancelled"], [])]
        return replies

    def _preview(self, turn: Turn) -> str:
        return self.t["announce_preview"].format(
            audience=AUDIENCE_NAMES[turn.draft["audience"]], text=turn.draft["text"]
        )

    def _cancel_button(self, turn: Turn) -> list[Button]:
        return (
            [Button(label=self.b["cancel"], value="announce:cancel")]
            if self.flow.step_of(turn.state) == "confirm"
            else []
        )

    def _send(self, turn: Turn) -> list[Reply]:
        draft = turn.draft
        broadcast = create_broadcast(
            turn.session, draft["text"], draft["audience"], "events", created_by=turn.user, now=turn.now
        )
        turn.session.flush()
        status = broadcast_status(turn.session, broadcast.id)
        turn.state.reset()
        log.info("broadcast %s created", broadcast.id)
        return [(self.t["announce_sent"].format(id=broadcast.id, count=status.queued), [])]
