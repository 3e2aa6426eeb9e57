"""The need model: from a resident's words to the kinds of service that help, and from those kinds to the
services of any map (docs/needs.md).

Two halves, both learned from data and neither from evaluation queries:

1. **Words → service types.** A text classifier (spaCy TextCatBOW over word keys, as the NLU) trained on
   questions written from the service types of ``data/needs.yaml`` (symptoms, feelings, life events,
   activities, Dutch and English) by writers who saw neither the code nor an evaluation set
   (``data/needs_written.jsonl``). It catches needs that name no service: "ik durf de winkel niet meer in"
   → psychological care.
2. **Service types → this map's services.** Each type's ``words`` (what a map calls such services) are
   searched in the map's own index; a service's affinity to a type is its score relative to the best one.
   Nothing is tied to one map's names or taxonomy codes, so the model works on a map it has never seen.

The search adds, per service, the predicted types' probabilities times its affinities, scaled to the
query's best word score (``SearchIndex.search``): the words still decide among services of the right kind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from bot.floor import yamlfile
from intents.language import dutch, words

DATA = Path(__file__).with_name("data")
TYPES = DATA / "needs.yaml"
WRITTEN = DATA / "needs_written.jsonl"
SEED = 20261203
EPOCHS = 20
BATCH = 32
FEATURES = 2**15  # hashed unigram and bigram buckets: the optimiser updates them all per batch, so not more
MIN_AFFINITY = 0.25  # a service scoring below this share of a type's best service is not of that type
TOP_TYPES = 3  # the types of a query that count
MIN_PROBABILITY = 0.1


@dataclass(frozen=True)
class ServiceType:
    id: str
    domain: str
    stream: str
    does: str
    words: tuple[str, ...]
    label: str = ""  # the kind of need in a few B1 words (a need line, a coordinator's list)


def load_types(path: Path = TYPES) -> tuple[ServiceType, ...]:
    raw = yamlfile.safe_load(path.read_text(encoding="utf-8"))["types"]
    return tuple(
        ServiceType(t["id"], t["domain"], t["stream"], t["does"], tuple(t["words"]), t.get("label", "")) for t in raw
    )


@cache
def label_of(kind: str) -> str:
    """A kind of need in a few B1 words ("schulden en geldzorgen"); an unknown kind as its id with spaces."""
    labels = {t.id: t.label for t in load_types()}
    return labels.get(kind) or kind.replace("-", " ")


def as_keys(text: str) -> str:
    """A text as the classifier reads it: word keys (lemma + stem), so inflections share evidence."""
    nl = dutch()
    return " ".join(nl.key(w) for w in words(text[:2000]) if not nl.is_stop(w)) or "_"


def _fingerprint(types: tuple[ServiceType, ...]) -> str:
    from importlib.metadata import version

    digest = hashlib.sha256(f"{version('spacy')}/{SEED}/{EPOCHS}/{BATCH}/{FEATURES}".encode())
    digest.update(repr([t.id for t in types]).encode())
    digest.update(WRITTEN.read_bytes())
    return digest.hexdigest()[:16]


def _train(types: tuple[ServiceType, ...]):
    from intents.textcat import labelled, train_bow

    labels = tuple(t.id for t in types)
    pairs = [(as_keys(text), label) for text, label in labelled(WRITTEN, "type", labels)]
    return train_bow(pairs, labels, seed=SEED, epochs=EPOCHS, batch_size=BATCH, length=FEATURES)


class NeedModel:
    def __init__(self, types: tuple[ServiceType, ...], nlp):
        self.types = types
        self.by_id = {t.id: t for t in types}
        self.nlp = nlp
        self.fingerprint: str | None = None  # of the data it was trained on; None for a model made in code

    @classmethod
    def load(cls, cache_dir: Path | None) -> NeedModel:
        from intents.textcat import cached

        types = load_types()
        fingerprint = _fingerprint(types)
        model = cls(types, cached(cache_dir, "needs", fingerprint, lambda: _train(types)))
        model.fingerprint = fingerprint
        return model

    def predict(self, text: str) -> list[tuple[str, float]]:
        """The most likely service types of a text, best first (at most TOP_TYPES, each ≥ MIN_PROBABILITY)."""
        cats = self.nlp(as_keys(text))
        ranked = sorted(cats.items(), key=lambda kv: -kv[1])[:TOP_TYPES]
        return [(label, float(p)) for label, p in ranked if p >= MIN_PROBABILITY]

    def affinities(self, index) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per type, the services of a map's index that are of that type: (doc positions, affinity 0..1)."""
        out = {}
        for t in self.types:
            scores, _ = index.word_scores(" ".join(t.words))
            best = float(scores.max()) if len(scores) else 0.0
            if best <= 0:
                continue
            kept = np.flatnonzero(scores >= MIN_AFFINITY * best)
            out[t.id] = (kept, (scores[kept] / best).astype(np.float32))
        return out


@cache
def default_needs(cache_dir: Path | None = None) -> NeedModel:
    """The process-wide need model, cached on disk in ``cache_dir`` (default: the settings' cache directory)."""
    if cache_dir is None:
        from bot.floor.config import Settings

        cache_dir = Settings().cache_dir
    return NeedModel.load(cache_dir)
