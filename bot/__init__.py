"""Wijkbot's application and its floor.

Layers, top to bottom; a module imports only from its own layer or below (the import-linter contract
in pyproject.toml, checked by ``make lint``; docs/architecture.md draws it):

1. **app** (this package): ``core`` (the conversation: safety first, then commands, flows, triage,
   answers), ``actions`` (buttons parsed before any handler), ``flows`` (the chat flows as tables),
   ``broadcasts``, ``feedback``, ``channels/`` (Telegram, Matrix), ``console``, ``delivery`` (the
   outbox senders), ``runner``, ``cli/`` (one module per command group), ``app`` (opening the
   database), ``migrations/`` (the schema of every layer).
2. **jobs** (scheduler, agenda, reminders, retention) and **knowledge** (curated answers).
3. **socialekaart** (the social map: models, HSDS import/export, search).
4. **intents** (language, NLU, red-flag safety, triage dialogue).
5. **floor** (``bot/floor/``): clock, config, db, errors, messages, models, memory, outbox, network,
   limits.

The stable way to drive Wijkbot from Python: ``bot.core.Wijkbot``, ``bot.messages`` (Incoming,
Outgoing, Button), ``bot.app.open_database`` and ``bot.config.Settings`` (docs/architecture.md).
"""
