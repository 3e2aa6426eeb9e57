"""Red flags: 100% recall on the red-flag test set, the right resource, few false alarms."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from bot.clock import LOCAL_TZ
from intents.safety import Safety, safety

CASES = [json.loads(line) for line in (Path(__file__).with_name("data") / "redflags.jsonl").read_text(
    encoding="utf-8").splitlines() if line.strip()]


def test_every_red_flag_in_the_test_set_is_escalated_to_the_right_resource():
    missed = [(c["id"], c["escalation"], c["text"]) for c in CASES
              if c["escalation"] and (e := safety().check(c["text"])) is None]
    assert missed == [], "missed emergencies"
    wrong = [(c["id"], c["escalation"], e.escalate_to) for c in CASES
             if c["escalation"] and (e := safety().check(c["text"])) and e.escalate_to != c["escalation"]]
    assert wrong == []


def test_look_alikes_rarely_escalate():
    controls = [c for c in CASES if not c["escalation"]]
    false = [(c["id"], c["text"]) for c in controls if safety().check(c["text"])]
    assert len(false) <= 0.03 * len(controls), false


@pytest.mark.parametrize(("text", "expected"), [
    ("ik zie het niet meer zitten", "113"),
    ("iedereen is beter af zonder mij", "113"),
    ("mijn vader is ineens scheef in zijn gezicht", "112"),
    ("I keep thinking about killing myself", "113"),
    ("mn vriendin zegt dat ze zelfmoort wil plegen", "113"),
    ("hij ademd niet meer help", "112"),
    ("mijn partner slaat me als hij gedronken heeft", "veilig-thuis"),
    ("zaterdagnacht en mijn baby van 3 maanden heeft 39 koorts", "huisartsenpost"),
    ("ik wil een EHBO-cursus reanimeren volgen", None),
    ("ik ga dood van verveling", None),
    ("mijn hart gaat uit naar dit buurthuis", None),
    ("ik lach me dood bij de cursus Nederlands", None),
    ("mijn vader had vorig jaar een hartaanval en wil nu weer sporten", None),
    ("ik heb koorts", None),  # urgent only when the message says it is outside office hours
])
def test_phrasings(text, expected):
    found = safety().check(text)
    assert (found.escalate_to if found else None) == expected


@pytest.mark.parametrize("text", ["", "   ", "😀" * 500, "x" * 20_000, "\x00\x01\xff", "<b>help</b> **nu**"])
def test_odd_input_never_raises(text):
    safety().check(text)


def test_the_huisartsenpost_advice_depends_on_office_hours():
    text = "mijn dochter heeft sinds vannacht 40 graden koorts"
    sunday = datetime(2026, 11, 29, 10, 0, tzinfo=LOCAL_TZ)
    assert "huisartsenpost" in safety().check(text, now=sunday).reply
    tuesday = datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)
    assert "eigen huisarts" in safety().check(text, now=tuesday).reply


def test_replies_name_the_resource():
    replies = Safety().replies
    assert "112" in replies["112"]
    assert "113" in replies["113"] and "0800-0113" in replies["113"]
    assert "0800-2000" in replies["veilig-thuis"]
    assert "huisartsenpost" in replies["huisartsenpost"]
