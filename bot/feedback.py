"""Learning from "Heeft u hier iets aan?", privately.

A resident's ja / nee / klopt niet after an answer is stored as anonymous counts per kind of need (the need
model's type of the question, never its text) and service shown (``FeedbackCount``). The counts become a
bounded prior in ranking: a service's score is multiplied by

    1 + STRENGTH * (helped - not_helped - not_fitting) / (answers + SMOOTHING)

which stays within 1 ± STRENGTH however many answers there are, and needs several answers to move at
all: one service cannot crowd out the others, and a few clicks cannot bury a good one.
``benchmarks/feedback_sim.py`` measures it on simulated residents; ``/terugkoppeling`` (coordinator) and
``wijkbot feedback`` show which needs most often end in "nee".
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.floor.models import FeedbackCount

STRENGTH = 0.25
SMOOTHING = 5
OUTCOMES = {"yes": "helped", "no": "not_helped", "wrong": "not_fitting"}
ANSWER = "*"  # the row that counts the answers themselves, once each, whatever was shown


def record(session: Session, need: str, service_ids: list[str], outcome: str) -> None:
    """Count one answer for every service that was shown for this kind of need."""
    from sqlalchemy.dialects import postgresql, sqlite

    column = OUTCOMES[outcome]
    rows = [
        {"need": need[:48], "service_id": sid[:64], "helped": 0, "not_helped": 0, "not_fitting": 0, column: 1}
        for sid in dict.fromkeys([ANSWER, *service_ids])
    ]
    if not rows:
        return
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[session.get_bind().dialect.name]
    insert = dialect.insert(FeedbackCount).values(rows)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["need", "service_id"],
            set_={column: getattr(FeedbackCount, column) + getattr(insert.excluded, column)},
        )
    )


def factor(helped: int, not_helped: int, not_fitting: int) -> float:
    answers = helped + not_helped + not_fitting
    return 1.0 + STRENGTH * (helped - not_helped - not_fitting) / (answers + SMOOTHING)


def prior(session: Session, need: str) -> dict[str, float]:
    """Service id -> the factor its score is multiplied by, for questions of this kind of need."""
    rows = session.scalars(select(FeedbackCount).where(FeedbackCount.need == need, FeedbackCount.service_id != ANSWER))
    return {r.service_id: factor(r.helped, r.not_helped, r.not_fitting) for r in rows}


def report(session: Session) -> list[dict]:
    """Per kind of need: how many answers helped, did not, or did not fit, most "nee" first."""
    out = []
    for r in session.scalars(select(FeedbackCount).where(FeedbackCount.service_id == ANSWER)):
        answers = r.helped + r.not_helped + r.not_fitting
        out.append(
            {
                "need": r.need,
                "answers": answers,
                "helped": r.helped,
                "not_helped": r.not_helped,
                "not_fitting": r.not_fitting,
                "share_no": round((r.not_helped + r.not_fitting) / answers, 3) if answers else 0.0,
            }
        )
    return sorted(out, key=lambda r: (-r["share_no"], -r["answers"], r["need"]))
