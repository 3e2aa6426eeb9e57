"""Meeting series, their exceptions, and deadlines: the agenda's source of truth."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.floor.db import Base, UTCDateTime


class MeetingSeries(Base):
    """A recurring meeting (MDO, netwerkbijeenkomst): an RFC 5545 RRULE in an IANA time zone.

    `start_local` is the wall-clock time of the first occurrence ("2027-01-12T14:00"); every
    occurrence keeps that wall-clock time in `timezone`, across daylight-saving changes."""

    __tablename__ = "meeting_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(300))
    rrule: Mapped[str] = mapped_column(String(500))
    start_local: Mapped[str] = mapped_column(String(19))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Amsterdam")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    location: Mapped[str | None] = mapped_column(Text, nullable=True)
    audience: Mapped[str] = mapped_column(String(16), default="professionals")
    remind: Mapped[list] = mapped_column(JSON, default=list)  # lead times such as ["7d", "1d", "2h"]
    skip_holidays: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SeriesException(Base):
    """One occurrence cancelled or moved (RFC 5545 EXDATE / RECURRENCE-ID)."""

    __tablename__ = "series_exception"
    __table_args__ = (UniqueConstraint("series_id", "original_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("meeting_series.id", ondelete="CASCADE"), index=True)
    original_start: Mapped[datetime] = mapped_column(UTCDateTime())
    new_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # None: cancelled
    # when the change was made: reminders of a moved occurrence that fell due before it are not sent
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SeriesParticipant(Base):
    """Who a series is for: a user, or an organisation of the social map (everyone whose account
    belongs to it). A series without participants is for its whole audience."""

    __tablename__ = "series_participant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("meeting_series.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("wijkbot_user.id", ondelete="CASCADE"), nullable=True)
    # the social map's organisation id and name; no foreign key, so a map import with --replace keeps them
    organization_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    organization_name: Mapped[str | None] = mapped_column(Text, nullable=True)


class Rsvp(Base):
    """A participant's answer to one occurrence (ik kom / ik kom niet / misschien). The occurrence is
    named by its original start, so an answer stays with it; a move clears the answers and asks again."""

    __tablename__ = "rsvp"
    __table_args__ = (UniqueConstraint("series_id", "occurrence_start", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("meeting_series.id", ondelete="CASCADE"), index=True)
    occurrence_start: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int] = mapped_column(ForeignKey("wijkbot_user.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(8))  # yes | no | maybe
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Deadline(Base):
    """A hard date (e.g. the wijkplan at the insurer) with reminder lead times; done stops reminders."""

    __tablename__ = "deadline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(300))
    due: Mapped[date] = mapped_column(Date)
    remind: Mapped[list] = mapped_column(JSON, default=list)
    owners: Mapped[str | None] = mapped_column(Text, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
