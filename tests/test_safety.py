"""Red flags: every criterion of docs/safety.md, context, languages, office hours, and the development sets."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from bot.floor.clock import LOCAL_TZ
from intents import languages
from intents.safety import DATA, PRIORITY, Safety, safety

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "docs" / "safety.md").read_text(encoding="utf-8")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# Development sets: each was blind when written and has been used to build the method since
# (docs/benchmarks.md). Every red flag must be caught: escalated at once or asked about directly.
# Sets D and E, used last, are not held to this yet: their figures and misses are in docs/benchmarks.md.
DEV_SETS = {
    "redflags": _rows(Path(__file__).with_name("data") / "redflags.jsonl"),
    "blind-a": _rows(ROOT / "benchmarks" / "eval-triage-a" / "messages.jsonl"),
    "blind-b": _rows(ROOT / "benchmarks" / "eval-triage-b" / "messages.jsonl"),
    "blind-c": _rows(ROOT / "benchmarks" / "eval-triage-c" / "messages.jsonl"),
}


def _when(row: dict) -> datetime | None:
    return datetime.fromisoformat(row["sent_at"]) if row.get("sent_at") else None


@pytest.mark.parametrize("name", sorted(DEV_SETS))
def test_every_red_flag_of_the_development_sets_is_caught(name):
    missed = []
    for row in DEV_SETS[name]:
        if row["escalation"]:
            found = safety().assess(row["text"], _when(row))
            if not (found.escalate_to or found.check):
                missed.append((row["id"], row["escalation"], row["text"]))
    assert missed == [], "missed emergencies"


@pytest.mark.parametrize("name", sorted(DEV_SETS))
def test_direct_escalations_go_to_the_right_resource(name):
    flagged = [r for r in DEV_SETS[name] if r["escalation"]]
    found = [(r, safety().assess(r["text"], _when(r))) for r in flagged]
    wrong = [
        (r["id"], r["escalation"], f.escalate_to)
        for r, f in found
        if f.escalate_to and f.escalate_to != r["escalation"]
    ]
    assert len(wrong) <= 0.03 * len(flagged), wrong
    direct = sum(1 for r, f in found if f.escalate_to == r["escalation"])
    assert direct >= 0.9 * len(flagged)


@pytest.mark.parametrize("name", sorted(DEV_SETS))
def test_look_alikes_and_ordinary_questions_rarely_escalate_or_ask(name):
    calm = [r for r in DEV_SETS[name] if not r["escalation"]]
    found = [(r, safety().assess(r["text"], _when(r))) for r in calm]
    escalated = [(r["id"], r["text"]) for r, f in found if f.escalate_to]
    asked = [(r["id"], r["text"]) for r, f in found if f.check]
    assert len(escalated) <= 0.03 * len(calm), escalated
    assert len(asked) <= 0.10 * len(calm), asked


# --- one test per criterion: its own examples, written for the tests --------------------------------

CRITERIA = yaml.safe_load((DATA / "criteria.yaml").read_text(encoding="utf-8"))["criteria"]
EXAMPLES = [
    (c["id"], c["resource"], kind, text)
    for c in CRITERIA
    for kind, texts in (c.get("examples") or {}).items()
    for text in texts
]


@pytest.mark.parametrize(
    ("criterion", "resource", "kind", "text"), EXAMPLES, ids=[f"{c}:{k}:{n}" for n, (c, _, k, _) in enumerate(EXAMPLES)]
)
def test_criterion_examples(criterion, resource, kind, text):
    found = safety().assess(text)
    if kind == "direct":
        assert found.escalate_to == resource, (found.flags, found.findings)
    elif kind == "doubt":
        assert resource in (found.escalate_to, found.check), (found.flags, found.findings)
    else:
        assert not (found.escalate_to or found.check), (found.flags, found.findings)


def test_every_criterion_is_in_the_docs_with_a_source_and_an_example():
    for criterion in CRITERIA:
        assert f"`{criterion['id']}`" in DOCS, f"{criterion['id']} is not listed in docs/safety.md"
        assert criterion.get("source") and criterion.get("criterion")
    untested = [c["id"] for c in CRITERIA if not c.get("examples") and not c.get("cue")]
    assert untested == []


def test_the_data_has_no_duplicate_keys_and_every_word_group_is_used():
    class Strict(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        keys = [loader.construct_object(k) for k, _ in node.value]
        assert len(keys) == len(set(keys)), f"duplicate key at {node.start_mark}"
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    for name in ("words", "criteria", "context", "replies"):
        yaml.load((DATA / f"{name}.yaml").read_text(encoding="utf-8"), Loader=Strict)
    groups = yaml.safe_load((DATA / "words.yaml").read_text(encoding="utf-8"))["groups"]
    used = {
        g.rstrip("@")
        for c in CRITERIA
        for level in ("direct", "doubt", "cue")
        for rule in c.get(level) or []
        for g in rule
    } | {g for c in CRITERIA for g in c.get("unless", [])}
    assert set(groups) - used == set()


# --- context ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mijn vader heeft pijn op de borst die uitstraalt naar zijn arm", "112"),
        ("mijn vader heeft geen pijn op de borst meer, hij wil weer sporten", None),  # negated
        ("mijn moeder had jaren geleden een hartstilstand, nu zoekt ze een beweeggroep", None),  # historical
        (
            "mijn moeder had twee jaar geleden een hartaanval en nu weer pijn op de borst en ze zweet",
            "112",
        ),  # now again
        ("ik wil een cursus volgen: wat moet je doen als iemand bewusteloos is?", None),  # framed: a course
        ("er is een voorlichtingsavond over huiselijk geweld in het buurthuis", None),  # framed: a talk
        ("we hadden geen adem meer van het lachen", None),  # idiom
        ("mijn zoon sloeg de deur keihard dicht van boosheid", None),  # idiom: a door
        ("hij had vannacht een hypo maar na een boterham is hij weer helemaal helder", None),  # resolved
        ("ik wil niet meer leven haha", None),  # a joke is asked about, not escalated (see below)
    ],
)
def test_context(text, expected):
    assert safety().assess(text).escalate_to == expected


def test_a_joke_about_dying_gets_the_direct_question():
    found = safety().assess("ik wil niet meer leven haha")
    assert found.escalate_to is None and found.check == "113"


def test_someone_else_still_counts_and_the_question_says_so():
    found = safety().assess("mijn vriendin zegt dat ze niet meer wil leven")
    assert found.escalate_to == "113"
    asked = safety().assess("mijn vriend zegt steeds dat hij een last is voor iedereen")
    assert "113" in (asked.check, asked.escalate_to) and asked.about_other  # a doubt; the model may confirm it
    assert "deze persoon" in safety().question("113", "nl", asked.about_other)


# --- languages --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "resource", "language"),
    [
        ("I don't want to live anymore", "113", "en"),
        ("my dad collapsed and is not breathing", "112", "en"),
        ("annem nefes alamıyor, dudakları morarmış", "112", "tr"),
        ("kocam beni dövüyor ve tehdit ediyor", "veilig-thuis", "tr"),
        ("لا أريد أن أعيش بعد الآن", "113", "ar"),
        ("زوجي يضربني ويهددني", "veilig-thuis", "ar"),
        ("nie chcę już żyć", "113", "pl"),
        ("mój mąż ma silny ból w klatce piersiowej", "112", "pl"),
        ("мій чоловік б'є мене і погрожує", "veilig-thuis", "uk"),
        ("син не дихає", "112", "uk"),
        ("artık yaşamak istemiyorum", "113", "tr"),
        ("babam bayıldı, uyanmıyor", "112", "tr"),
        ("لا أستطيع التنفس", "112", "ar"),
        ("أمي فاقدة الوعي", "112", "ar"),
        ("chcę się zabić", "113", "pl"),
        ("nie mogę oddychać", "112", "pl"),
        ("хочу покінчити з собою", "113", "uk"),
        ("сильна кровотеча, кров не зупиняється", "112", "uk"),
    ],
)
def test_core_statements_in_other_languages_escalate_and_the_reply_is_in_both(text, resource, language):
    found = safety().assess(text)
    assert found.escalate_to == resource and found.language == language
    reply = safety().reply(resource, found.language)
    assert reply.startswith(safety().reply(resource, "nl")) and "\n\n" in reply
    assert resource.split("-")[0].replace("veilig", "0800-2000") in reply or resource == "huisartsenpost"


def test_language_detection_on_short_messages():
    assert languages.detect("help") == "nl"  # too short to tell: the wijk's language
    assert languages.detect("ik zie het niet meer zitten") == "nl"
    assert languages.detect("please help me, my husband hits me") == "en"
    assert languages.detect("моя дочка не дихає") == "uk"
    assert languages.detect("بنتي لا تتنفس") == "ar"
    assert languages.detect("😀😀") == "nl"


def test_a_language_without_its_own_texts_gets_english_after_dutch():
    reply = safety().reply("113", "ru")
    assert reply.startswith(safety().reply("113", "nl")) and "113 Suicide" in reply


# --- time: the huisartsenpost -------------------------------------------------------------------------


def test_huisartsenpost_signs_count_outside_office_hours_and_clear_ones_go_to_the_own_gp_by_day():
    clear = "mijn zoon is van de fiets gevallen en zijn pols staat helemaal scheef"
    doubtful = "mijn dochter heeft koorts"
    sunday = datetime(2026, 11, 29, 10, 0, tzinfo=LOCAL_TZ)
    tuesday = datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=LOCAL_TZ)  # a public holiday: the practice is closed
    assert safety().assess(clear, sunday).escalate_to == "huisartsenpost"
    assert "huisartsenpost" in safety().reply("huisartsenpost", "nl", sunday)
    assert safety().assess(clear, tuesday).escalate_to == "huisartsenpost"
    assert "eigen huisarts" in safety().reply("huisartsenpost", "nl", tuesday)
    assert safety().assess(doubtful, tuesday).check is None
    assert safety().assess(doubtful + " en ze drinkt bijna niks", christmas).escalate_to == "huisartsenpost"


def test_without_a_time_the_message_says_when():
    assert safety().assess("zaterdagnacht, mijn baby van 2 maanden heeft 38,9 koorts").escalate_to == "huisartsenpost"


# --- answers to the safety question, odd input -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("nee", "no"),
        ("Nee hoor, gelukkig niet", "no"),
        ("no", "no"),
        ("hayır", "no"),
        ("ні", "no"),
        ("ja", "yes"),
        ("soms", "yes"),
        ("weet ik niet", "yes"),
        ("nee maar ik denk er wel vaak aan", "yes"),
        ("waar is de dichtstbijzijnde huisarts", "unclear"),
    ],
)
def test_typed_answers_to_the_safety_question(text, answer):
    assert safety().answer(text) == answer


@pytest.mark.parametrize(
    "text", ["", "   ", "😀" * 500, "x" * 20_000, "\x00\x01\xff", "<b>help</b> **nu**", "١٢٣٤٥", "ـــ", "'''", "~*()|"]
)
def test_odd_input_never_raises(text):
    safety().assess(text)
    safety().answer(text)


def test_replies_and_questions_exist_in_every_language_and_name_the_resource():
    texts = Safety().texts
    for resource in PRIORITY:
        for language in ("nl", "en", "tr", "ar", "pl", "uk"):
            assert texts["replies"][resource][language].strip()
            assert texts["questions"][resource][language].strip()
    assert "0800-0113" in texts["replies"]["113"]["nl"] and "0800-2000" in texts["replies"]["veilig-thuis"]["nl"]
    assert all(re.search(r"\b112\b", texts["replies"]["112"][lang]) for lang in texts["replies"]["112"])
