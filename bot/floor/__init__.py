"""The floor every layer stands on: no chat logic, no channels, nothing above it imported.

clock (aware time, injectable), config (settings), db (engine, sessions, migrations), errors, messages
(what flows between a channel and the core), models (users, conversations, outbox, ... tables),
memory (the application's key-value facts), outbox (the persistent queue a sender drains), network
(roles by invite, linked accounts, subscriptions), limits (rate limits and code lockouts).
"""
