"""``wijkbot nlu``: the text classifiers for stream and intent."""

from __future__ import annotations

import click

from bot.floor.config import Settings
from intents.nlu import NLU


@click.group()
def nlu() -> None:
    """The text classifiers for stream and intent."""


@nlu.command("train")
@click.pass_context
def nlu_train(ctx: click.Context) -> None:
    """Retrain the classifiers from intents/data/ (fixed seed) and cache them in the cache directory."""
    NLU(ctx.find_object(Settings).cache_dir, retrain=True)
    click.echo("trained the stream and intent classifiers")
