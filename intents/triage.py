"""The triage dialogue ("vraagverheldering"): which stream, what need, for whom, where.

The dialogue is data (``intents/data/dialogue.yaml``); this module is the small engine that walks
it. It asks at most ``max_questions`` clarifying questions, one at a time, reuses what the messages
already said (a postcode, for whom, the stream) and never asks the same question twice.
"""

from __future__ import annotations

import re
from collections import ChainMap, Counter
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field
from functools import cache
from pathlib import Path

from bot.floor import yamlfile
from intents.language import dutch, words
from intents.nlu import STREAMS, Parse
from intents.streams import stream_cues

DIALOGUE = Path(__file__).with_name("data") / "dialogue.yaml"
DIALOGUE_EN = Path(__file__).with_name("data") / "dialogue_en.yaml"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
TAXONOMY_STREAM = {"zorg": "care", "gezondheid": "health", "welzijn": "wellbeing"}
MAP_VOTE_WEIGHT = 0.25
CUE_VOTE_WEIGHT = 0.35
STREAM_CONFIDENT = 0.5
CLEAR_KIND = 0.3  # the need model's probability from which a need without specific words is clear enough
ESCALATION_STREAM = {"112": "care", "113": "care", "huisartsenpost": "care", "veilig-thuis": "wellbeing"}


@dataclass
class Question:
    key: str  # stream | topic | for_whom | postcode
    text: str
    options: list[tuple[str, str]]  # (value, label)


@dataclass
class Dialogue:
    max_questions: int
    texts: dict[str, str]
    buttons: dict[str, str]
    questions: dict
    english: dict = field(default_factory=dict)  # dialogue_en.yaml: the same keys, for residents writing English

    @classmethod
    def load(cls, path: Path = DIALOGUE, english: Path = DIALOGUE_EN) -> Dialogue:
        data = yamlfile.safe_load(path.read_text(encoding="utf-8"))
        en = yamlfile.safe_load(english.read_text(encoding="utf-8")) if english.exists() else {}
        dialogue = cls(data["max_questions"], data["texts"], data["buttons"], data["questions"], en or {})
        problems = dialogue.check()
        if problems:
            raise ValueError(f"{english.name}: " + "; ".join(problems))
        return dialogue

    def check(self) -> list[str]:
        """Every English text has a Dutch one with the same placeholders (a translation, not a new text)."""
        problems = []
        for section, dutch_texts in (("texts", self.texts), ("buttons", self.buttons)):
            for key, text in (self.english.get(section) or {}).items():
                if key not in dutch_texts:
                    problems.append(f"{section}.{key} is not in the Dutch dialogue")
                elif set(_PLACEHOLDER.findall(text)) != set(_PLACEHOLDER.findall(dutch_texts[key])):
                    problems.append(f"{section}.{key}: placeholders differ from the Dutch text")
        for key in self.english.get("questions") or {}:
            if key not in self.questions:
                problems.append(f"questions.{key} is not in the Dutch dialogue")
        return problems

    def texts_for(self, lang: str = "nl") -> Mapping[str, str]:
        """The texts in the resident's language: English where there is a translation, else Dutch."""
        return ChainMap(self.english.get("texts") or {}, self.texts) if lang == "en" else self.texts

    def buttons_for(self, lang: str = "nl") -> Mapping[str, str]:
        return ChainMap(self.english.get("buttons") or {}, self.buttons) if lang == "en" else self.buttons

    def answers(self, key: str) -> set[str]:
        """Every button value a question can have, in any stream: what a pressed answer is checked against."""
        q = self.questions.get(key) or {}
        groups = q["options_by_stream"].values() if "options_by_stream" in q else [q.get("options") or {}]
        return {f"{key}:{value}" for options in groups for value in options}

    def question(self, key: str, stream: str | None = None, lang: str = "nl") -> Question:
        q = self.questions[key]
        local = ((self.english.get("questions") or {}).get(key) or {}) if lang == "en" else {}
        if key == "topic":
            options = list(q["options_by_stream"].get(stream or "wellbeing", {}).items())
            labels = (local.get("options_by_stream") or {}).get(stream or "wellbeing") or {}
        else:
            options = list((q.get("options") or {}).items())
            labels = local.get("options") or {}
        return Question(
            key, local.get("text", q["text"]), [(f"{key}:{v}", labels.get(v, label)) for v, label in options]
        )


@dataclass
class TriageState:
    """What the conversation has clarified so far. Stored as JSON per chat; holds the need in the
    user's words only until the conversation ends, expires or is forgotten."""

    need: str = ""
    stream: str | None = None
    topic: str | None = None
    for_whom: str | None = None
    postcode: str | None = None
    asked: list[str] = field(default_factory=list)
    pending: str | None = None
    draft: dict = field(default_factory=dict)  # a coordinator's announcement being written
    safety: dict = field(default_factory=dict)  # the safety question waiting for an answer, and the message
    cleared: list[str] = field(default_factory=list)  # resources the resident said "no" to in this conversation
    lang: str = "nl"  # the language of the replies: "en" for a resident who writes English, else Dutch
    answered: dict = field(default_factory=dict)  # the last answer: kind of need and service ids, for feedback

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def reset(self) -> None:
        """Forget everything of the conversation so far (a new question, an escalation, /opnieuw); the
        language of the replies stays."""
        for name, f in self.__dataclass_fields__.items():
            if name != "lang":
                setattr(self, name, f.default_factory() if f.default_factory is not MISSING else f.default)

    @classmethod
    def from_dict(cls, data: dict | None) -> TriageState:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


def map_vote(index, text: str) -> dict[str, float]:
    """How the social map's best matches for a text spread over the three streams (sums to 1 or 0)."""
    hits = index.search(text, limit=5) if index is not None else []
    vote: Counter = Counter()
    for hit in hits:
        streams = [
            TAXONOMY_STREAM[c.split(".")[0]] for c in index.codes.get(hit.id, ()) if c.split(".")[0] in TAXONOMY_STREAM
        ]
        for s in streams:
            vote[s] += hit.score / len(streams)
    total = sum(vote.values())
    return {s: vote[s] / total for s in STREAMS} if total else {s: 0.0 for s in STREAMS}


def judge_stream(stream_cats: dict[str, float], index, text: str) -> tuple[str, float]:
    """Combine the text classifier, the social map's vote and the stream cues of docs/streams.md;
    returns (stream, confidence). A voter with nothing to say gives its weight to the classifier."""
    votes = [(map_vote(index, text), MAP_VOTE_WEIGHT), (stream_cues().vote(text), CUE_VOTE_WEIGHT)]
    rest = 1.0 - sum(weight for vote, weight in votes if any(vote.values()))
    combined = {s: rest * stream_cats.get(s, 0.0) + sum(w * v[s] for v, w in votes if any(v.values())) for s in STREAMS}
    best = max(combined, key=combined.get)
    return best, combined[best]


def is_vague(index, text: str) -> bool:
    """A need too vague to search: no word of it names a concept or a word only a few services use, and
    the need model names no kind of service with some confidence ("ik weet niet wat ik moet doen")."""
    nl = dutch()
    content = [w for w in words(text) if not nl.is_stop(w) and w not in nl.who and w not in nl.when]
    if index is None:
        return not content
    if any(index.informative(nl.key(w)) for w in content):
        return False
    kinds = index.kinds(text) if content else []
    return not (kinds and kinds[0][1] >= CLEAR_KIND)


def next_question(
    dialogue: Dialogue, state: TriageState, parse: Parse, index, stream_confidence: float, *, ask_postcode: bool = True
) -> Question | None:
    """The one clarifying question to ask now, or None when it is time to answer."""
    if len(state.asked) >= dialogue.max_questions:
        return None
    if state.stream is None and stream_confidence < STREAM_CONFIDENT and "stream" not in state.asked:
        return dialogue.question("stream", lang=state.lang)
    if state.topic is None and "topic" not in state.asked and is_vague(index, state.need):
        return dialogue.question("topic", state.stream or parse.stream, state.lang)
    if state.for_whom is None and "for_whom" not in state.asked and is_vague(index, state.need):
        return dialogue.question("for_whom", lang=state.lang)
    if (
        ask_postcode
        and state.postcode is None
        and "postcode" not in state.asked
        and (index is None or index.proximity_matters(search_text(dialogue, state)))
    ):
        return dialogue.question("postcode", lang=state.lang)
    return None


def search_text(dialogue: Dialogue, state: TriageState) -> str:
    """The clarified need as a search query: the user's words plus the words of chosen options."""
    extra = []
    if state.topic:
        extra.append(dialogue.questions["topic"]["search_words"].get(state.topic, ""))
    if state.for_whom:
        extra.append(dialogue.questions["for_whom"]["search_words"].get(state.for_whom, ""))
    return " ".join(x for x in [state.need, *extra] if x).strip()


@cache
def dialogue() -> Dialogue:
    return Dialogue.load()


def triage_message(text: str, index=None, now=None) -> dict:
    """One message, stateless: what `wijkbot triage --json` prints. `now` is when it was sent."""
    from intents.nlu import default_nlu
    from intents.safety import safety

    found = safety().assess(text, now=now)
    parse = default_nlu().parse(text)
    if found.escalate_to or found.check:  # a danger, even a doubtful one, decides the stream
        stream = ESCALATION_STREAM[found.escalate_to or found.check]
        question = None
    else:
        stream, confidence = judge_stream(parse.stream_scores, index, text)
        state = TriageState(need=text, postcode=parse.entities.get("postcode"), for_whom=parse.entities.get("for_whom"))
        asked = next_question(dialogue(), state, parse, index, confidence)
        question = asked.text if asked else None
    return {
        "stream": stream,
        "escalation": found.escalate_to,
        "safety_check": found.check,
        "intent": parse.intent,
        "entities": parse.entities,
        "next_question": question,
    }
