"""Wijkbot application wiring: configuration, database, command line and channels."""
