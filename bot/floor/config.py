"""Settings from the environment (prefix ``WIJKBOT_``) or a ``.env`` file."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WIJKBOT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where the embedded SQLite database lives")
    cache_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wijkbot",
        description="Models derived from the shipped data (shared by every data dir)",
    )
    database_url: str | None = Field(default=None, description="Any SQLAlchemy URL; default: SQLite file in data_dir")
    demo_map: bool = Field(default=True, description="Load the demo social map into an empty default database")
    log_level: str = "WARNING"
    conversation_timeout_minutes: int = Field(default=30, ge=1, description="Inactivity before a chat starts over")
    telegram_token: str | None = Field(default=None, description="Bot token from @BotFather")
    telegram_base_url: str | None = Field(
        default=None, description="A self-hosted Bot API server, e.g. http://h:8081/bot"
    )
    matrix_homeserver: str | None = Field(default=None, description="e.g. https://matrix.example.nl")
    matrix_user: str | None = Field(default=None, description="Full user id, e.g. @wijkbot:example.nl")
    matrix_password: str | None = None
    matrix_token: str | None = None
    matrix_allow: str = Field(
        default="",
        description="Comma-separated user ids or :servers whose invites are accepted; empty accepts every invite",
    )
    broadcast_rate: float = Field(default=25.0, gt=0, description="Broadcast messages per second per channel")
    retention_days: int = Field(default=30, ge=1, description="Conversation state is deleted after this many days")
    safety_followup_minutes: int = Field(
        default=10, ge=1, le=24 * 60, description="An unanswered safety question gets the advice anyway after this"
    )
    api_cors_origins: str = Field(
        default="",
        description="Comma-separated origins (https://www.gemeente.example.nl) whose web pages may read the "
        "Open Referral API (wijkbot serve); '*' allows every origin; empty allows none",
    )
    freshness_months: int = Field(default=6, ge=1, description="Services not checked for longer get reported")
    handoff_followup_days: int = Field(
        default=7, ge=1, le=90, description="Days after a warm handoff before the resident is asked whether it worked"
    )
    handoff_unanswered_hours: int = Field(
        default=48, ge=1, le=24 * 30, description="A need card nobody picked up after this goes to the coordinator"
    )
    handoff_retention_days: int = Field(
        default=30, ge=1, le=365, description="A handoff's personal data are deleted after this at the latest"
    )
    provider_check_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days between two checks of an organisation's listings by its professionals",
    )
    human_contact: str = Field(
        default="Wijkinformatiepunt De Vlinderhof, telefoon 053-5550000 (ma-vr 9-17 uur), "
        "wijkinformatiepunt@vlinderhof.example.nl",
        description="How a resident reaches a person at the wijk's coordination point",
    )

    @model_validator(mode="after")
    def _handoff_times_fit(self) -> Settings:
        """The follow-up is asked twice at most before the card's data are deleted: both must fit."""
        if 2 * self.handoff_followup_days >= self.handoff_retention_days:
            raise ValueError(
                "WIJKBOT_HANDOFF_RETENTION_DAYS must be more than twice WIJKBOT_HANDOFF_FOLLOWUP_DAYS "
                "(the follow-up is asked at most twice before the handoff's data are deleted)"
            )
        return self

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'wijkbot.sqlite3').resolve()}"

    @property
    def uses_embedded_default(self) -> bool:
        return not self.database_url
