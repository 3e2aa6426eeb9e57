"""``python -m bot.cli``: the ``wijkbot`` command."""

from bot.cli import main

main()
