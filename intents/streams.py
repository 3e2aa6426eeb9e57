"""Stream cues: what in a message marks care, health or wellbeing (docs/streams.md).

The stream classifier learns from examples; the social map votes with the streams of its best matches;
these cues add what the boundary criteria say, in every language the safety check reads: the services and
professions of a stream count double, and so does the sentence in which the resident asks for something -
the stream is what they ask for, not the story around it ("na mijn hartinfarct wil ik weer sporten" is
health; "mijn moeder met dementie kan niet meer thuis wonen" is care).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from bot.floor import yamlfile
from intents.terms import TermSet, Vocabulary, tokenize

CUES = Path(__file__).with_name("data") / "stream_cues.yaml"
STREAMS = ("care", "health", "wellbeing")
WEIGHTS = {"service": 2.0, "need": 1.0}
FOCUS = 2.0  # the asking sentence counts this much more
ASKING = [
    "zoek",
    "zoeken",
    "is er",
    "zijn er",
    "waar",
    "hoe",
    "kan ik",
    "kun je",
    "kunnen jullie",
    "wie",
    "graag",
    "help",
    "wil ik",
    "heeft iemand",
    "weet iemand",
    "looking for",
    "is there",
    "are there",
    "where",
    "how",
    "can i",
    "who",
    "need",
]


class StreamCues:
    def __init__(self, path: Path = CUES):
        data = yamlfile.safe_load(path.read_text(encoding="utf-8"))
        self.terms = TermSet()
        for stream in STREAMS:
            for kind in WEIGHTS:
                self.terms.add(f"{stream}:{kind}", data[stream].get(kind, []))
        self.terms.add("_asking", ASKING)
        self.vocabulary = Vocabulary(self.terms.words())

    def vote(self, text: str) -> dict[str, float]:
        """How the cues spread over the streams (sums to 1, or all 0 without any cue)."""
        tokens = tokenize(text[:2000], self.vocabulary)
        if not tokens.items:
            return dict.fromkeys(STREAMS, 0.0)
        found = self.terms.find(tokens)
        sentence = [t.sentence for t in tokens.items]
        asking = {sentence[s] for s, _ in found.get("_asking", ())} | {sentence[-1]}
        score = dict.fromkeys(STREAMS, 0.0)
        for stream in STREAMS:
            for kind, weight in WEIGHTS.items():
                for start, _ in found.get(f"{stream}:{kind}", ()):
                    score[stream] += weight * (FOCUS if sentence[start] in asking else 1.0)
        total = sum(score.values())
        return {s: score[s] / total for s in STREAMS} if total else score


@cache
def stream_cues() -> StreamCues:
    return StreamCues()
