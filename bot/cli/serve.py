"""``wijkbot serve``: the social map as an Open Referral (HSDS 3.0) read API over HTTP (docs/api.md).

FastAPI and uvicorn are imported when the command runs, not when ``wijkbot --help`` lists it.
"""

from __future__ import annotations

import click

from bot.cli.context import database
from bot.floor.config import Settings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the social map as an Open Referral (HSDS 3.0) read API over HTTP until SIGTERM/SIGINT."""
    import uvicorn

    from bot.api.app import create_app

    settings = ctx.find_object(Settings)
    app = create_app(database(ctx), settings, warm=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Open Referral API on http://{shown}:{port}/ (OpenAPI at /openapi.json); Ctrl+C stops", err=True)
    # uvicorn's access log prints whole URLs, query strings (a resident's search) included: bot.api.app logs
    # each request itself, without them
    uvicorn.run(app, host=host, port=port, access_log=False, log_level=settings.log_level.lower(), server_header=False)
