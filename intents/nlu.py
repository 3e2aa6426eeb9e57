"""NLU: stream and intent classifiers (spaCy text classifiers) and rule-based entities.

The classifiers are trained from the examples in ``intents/data/streams.yaml`` (with
``intents/data/streams_written.jsonl``: questions written from the stream definitions and boundary criteria of
docs/streams.md by a writer who saw neither the code nor any evaluation set) and ``intents/data/intents.yaml``
with a fixed seed, at first use, and cached on disk in the cache directory (``WIJKBOT_CACHE_DIR``, shared by
every data directory) keyed by a hash of the training data and the spaCy version; ``wijkbot nlu train`` retrains.
Texts are reduced to word keys (``intents.language``) before classification, so inflections and
spellings of one word share their evidence.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from bot.floor import yamlfile
from intents.language import DATA, dutch, find_postcode, fold, words

STREAMS = ("care", "health", "wellbeing")
INTENTS = ("need_help", "information", "who_does_what", "knowledge_question", "smalltalk")
TRAINING = {"stream": DATA / "streams.yaml", "intent": DATA / "intents.yaml"}
WRITTEN = {"stream": DATA / "streams_written.jsonl"}  # {"text", "stream", "lang", "boundary"} per line
SEED = 20261124
EPOCHS = 25

_AGE = re.compile(
    r"\b(?:(?:ik ben|is|ben|van|age[d]?|i am|i'm)\s+(\d{1,3})(?:\s*(?:jaar|jr|years?))?|(\d{1,3})\s*(?:jaar|jr|years?)"
    r"(?:\s+oud)?|(\d{1,3})\+)\b"
)
_AGE_GROUP = {
    "baby": "baby",
    "peuter": "child",
    "kleuter": "child",
    "kind": "child",
    "tiener": "teen",
    "puber": "teen",
    "jongere": "youth",
    "oudere": "older",
    "senior": "older",
    "bejaard": "older",
    "65plusser": "older",
}
_TIME = re.compile(r"\b(?:om\s+)?([01]?\d|2[0-3])[:.]([0-5]\d)\b|\bom\s+([1-9]|1[0-2])\s+uur\b")


@dataclass
class Parse:
    stream: str
    stream_confidence: float
    intent: str
    intent_confidence: float
    entities: dict = field(default_factory=dict)
    stream_scores: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"stream": self.stream, "intent": self.intent, "entities": self.entities}


def _as_keys(text: str) -> str:
    nl = dutch()
    return " ".join(nl.key(w) for w in words(text)) or "_"


def _training_hash() -> str:
    from importlib.metadata import version

    digest = hashlib.sha256(version("spacy").encode())  # spaCy's __version__, without importing spaCy
    for path in training_files():
        digest.update(path.read_bytes())
    digest.update(f"{SEED}/{EPOCHS}".encode())
    return digest.hexdigest()[:16]


def training_files() -> list[Path]:
    return [*TRAINING.values(), *WRITTEN.values()]


def examples(kind: str) -> list[tuple[str, str]]:
    """The (text, label) training examples of one classifier."""
    data = yamlfile.safe_load(TRAINING[kind].read_text(encoding="utf-8"))
    pairs = [(str(text), label) for label, texts in data.items() for text in texts or []]
    if kind in WRITTEN:
        from intents.textcat import labelled

        pairs.extend(labelled(WRITTEN[kind], kind, STREAMS))
    return pairs


def _train(kind: str, labels: tuple[str, ...]):
    from intents.textcat import train_bow

    pairs = [(_as_keys(text), label) for text, label in examples(kind) if label in labels]
    return train_bow(pairs, labels, seed=SEED, epochs=EPOCHS, batch_size=16)


class NLU:
    def __init__(self, cache_dir: Path | None = None, *, retrain: bool = False):
        from intents.textcat import cached

        key = _training_hash()
        self.models = {
            kind: cached(cache_dir, kind, key, lambda kind=kind, labels=labels: _train(kind, labels), retrain=retrain)
            for kind, labels in (("stream", STREAMS), ("intent", INTENTS))
        }

    def classify(self, kind: str, text: str) -> tuple[str, float, dict[str, float]]:
        cats = self.models[kind](_as_keys(text))
        best = max(cats, key=cats.get)
        return best, float(cats[best]), dict(cats)

    def parse(self, text: str) -> Parse:
        text = text[:2000]
        stream, s_conf, scores = self.classify("stream", text)
        intent, i_conf, _ = self.classify("intent", text)
        return Parse(stream, s_conf, intent, i_conf, entities(text), scores)


def entities(text: str) -> dict:
    """Postcode, age or age group, for whom, and day/time mentioned in a message."""
    nl = dutch()
    folded = fold(text)
    toks = words(text)
    found: dict = {}
    postcode = find_postcode(text)
    if postcode:
        found["postcode"] = postcode
    m = _AGE.search(folded)
    if m:
        age = int(next(g for g in m.groups() if g))
        if 0 < age <= 110:
            found["age"] = age
    groups = {_AGE_GROUP[nl.key(t)] for t in toks if nl.key(t) in _AGE_GROUP}
    if groups:
        found["age_group"] = sorted(groups)[0]
    whom = [nl.who[t] for t in toks if t in nl.who]
    others = [w for w in whom if w != "self"]
    if others:
        found["for_whom"] = others[0]
    elif whom:
        found["for_whom"] = "self"
    when = [t for t in toks if t in nl.when]
    times = _TIME.search(folded)
    if when or times:
        found["time"] = " ".join(dict.fromkeys(when)) + (f" {times.group(0)}" if times else "")
        found["time"] = found["time"].strip()
    return found


@cache
def default_nlu(cache_dir: Path | None = None) -> NLU:
    """The process-wide classifiers, cached on disk in ``cache_dir`` (default: the settings' cache
    directory, shared by every data directory: the models depend on the shipped data alone)."""
    if cache_dir is None:
        from bot.floor.config import Settings

        cache_dir = Settings().cache_dir
    return NLU(cache_dir)
