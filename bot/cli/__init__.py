"""The ``wijkbot`` command: one module per command group, each imported only when its group runs.

kaart (the social map), conversation (chat, triage), feedback (answers to "Heeft u hier iets aan?"), nlu
(the classifiers), network (invite, broadcast, user), handoff (warm handoffs), agenda (meeting series,
deadlines, .ics), jobs (the scheduler and its outbox), run (every channel at once), serve (the Open Referral
API) and api (its tokens); context holds what their commands share, lazy the click groups.
"""

from __future__ import annotations

import logging

import click

from bot.cli.lazy import Lazy, LazyGroup

COMMANDS = {
    "api": Lazy("bot.cli.api:api", "Tokens for the Open Referral API (wijkbot serve): who may see contact persons."),
    "agenda": Lazy("bot.cli.agenda:agenda", "Meeting series (MDO, netwerkbijeenkomst) and deadlines, in local time."),
    "broadcast": Lazy(
        "bot.cli.network:broadcast", "Announcements to opted-in users on every channel, through the persistent outbox."
    ),
    "chat": Lazy("bot.cli.conversation:chat", "Chat with Wijkbot in the console (the embedded default)."),
    "feedback": Lazy(
        "bot.cli.feedback:feedback_command",
        'Anonymous answers to the follow-up question per kind of need, most "no" first.',
    ),
    "handoff": Lazy(
        "bot.cli.handoff:handoff", "Warm handoffs: need cards sent to organisations, and what came of them."
    ),
    "invite": Lazy(
        "bot.cli.network:invite",
        "One-time codes that make a user a professional, coordinator or admin (/aanmelden CODE).",
    ),
    "jobs": Lazy("bot.cli.jobs:jobs", "The scheduler: meeting and deadline reminders into the outbox."),
    "kaart": Lazy("bot.cli.kaart:kaart", "The social map: import, export, statistics, duplicates and search."),
    "nlu": Lazy("bot.cli.nlu:nlu", "The text classifiers for stream and intent."),
    "run": Lazy(
        "bot.cli.run:run_command",
        "Run every configured channel (Telegram, Matrix) and the outbox senders until SIGTERM/SIGINT.",
    ),
    "serve": Lazy(
        "bot.cli.serve:serve",
        "Serve the social map as an Open Referral (HSDS 3.0) read API over HTTP until SIGTERM/SIGINT.",
    ),
    "triage": Lazy(
        "bot.cli.conversation:triage",
        "Classify a message: stream, escalation or safety question, intent, entities and the first "
        "clarifying question.",
    ),
    "user": Lazy("bot.cli.network:user", "Users and roles."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(package_name="wijkbot")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Wijkbot: the chat-first front door of a wijk's care, health and wellbeing services."""
    # Imported here, not at the top: pydantic-settings is most of the start-up time, and `wijkbot --help`,
    # which never runs this function, does not need it.
    from bot.floor.config import Settings

    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = settings
