"""One way to train a small text classifier, shared by the NLU and the safety check's second opinion.

spaCy's ``TextCatBOW`` (unigrams and bigrams, exclusive classes) over texts already reduced to word keys,
with a fixed seed so that the same data always gives the same model.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import shutil
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)


def labelled(path: Path, field: str, labels: tuple[str, ...]) -> list[tuple[str, str]]:
    """(text, label) pairs from a JSON Lines file of written examples, the label in `field`; a label
    outside `labels` is an error naming the file and line."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if row[field] not in labels:
                raise ValueError(f"{path.name}:{number}: unknown {field} {row[field]!r}")
            out.append((row["text"], row[field]))
    return out


def train_bow(
    pairs: list[tuple[str, str]],
    labels: tuple[str, ...],
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    length: int = 262144,
):
    """A blank Dutch spaCy pipeline with one text classifier trained on (text, label) pairs."""
    import spacy
    from spacy.training import Example
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(seed)
    rng = random.Random(seed)
    nlp = spacy.blank("nl")
    textcat = nlp.add_pipe(
        "textcat",
        config={
            "model": {
                "@architectures": "spacy.TextCatBOW.v3",
                "exclusive_classes": True,
                "ngram_size": 2,
                "no_output_layer": False,
                "length": length,
            }
        },
    )
    for label in labels:
        textcat.add_label(label)
    examples = [
        Example.from_dict(nlp.make_doc(text), {"cats": {x: float(x == label) for x in labels}}) for text, label in pairs
    ]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(epochs):
        rng.shuffle(examples)
        for batch in minibatch(examples, size=batch_size):
            nlp.update(batch, sgd=optimizer, drop=0.1)
    return nlp


SHARED_TOKENIZER = "wijkbot.shared_dutch_tokenizer.v1"


@cache
def _dutch_tokenizer():
    import spacy

    return spacy.blank("nl").tokenizer


# What every classifier here reads: word keys (intents.language) separated by single spaces, or "_".
_KEYED = re.compile(r"[a-z0-9_]+(?: [a-z0-9_]+)*")
_PLAIN_CASE = re.compile(r"[a-z0-9_]+")


class KeyTokenizer:
    """spaCy's Dutch tokenizer for texts of word keys, made in milliseconds instead of a second.

    Dutch's tokenizer is its affix rules (prefixes, suffixes, infixes, URLs) plus about 4,700 special cases.
    A special case applies to a piece of text that equals it, or to tokens that the affix rules make of it;
    a text of keys holds only lower-case letters, digits and '_' between single spaces, so only the special
    cases made of those characters can apply (five, each one token, kept here), and the affix rules are
    the same. Any other text goes to the full tokenizer. Checked on every written example and the word
    lists of the safety check, keyed: 0 differences in tokens (tests/test_cold_start.py)."""

    def __init__(self, vocab):
        from spacy import util
        from spacy.lang.nl import Dutch
        from spacy.tokenizer import Tokenizer

        d = Dutch.Defaults
        self.fast = Tokenizer(
            vocab,
            rules={k: v for k, v in d.tokenizer_exceptions.items() if _PLAIN_CASE.fullmatch(k)},
            prefix_search=util.compile_prefix_regex(d.prefixes).search,
            suffix_search=util.compile_suffix_regex(d.suffixes).search,
            infix_finditer=util.compile_infix_regex(d.infixes).finditer,
            token_match=d.token_match,
            url_match=d.url_match,
        )

    def __call__(self, text: str):
        return self.fast(text) if _KEYED.fullmatch(text) else _dutch_tokenizer()(text)


def _register_shared_tokenizer() -> None:
    """Every cached classifier is a blank Dutch pipeline reading word keys: each gets a KeyTokenizer, and
    a text that is not keys goes to one Dutch tokenizer shared by all, made at its first use (spaCy's
    Dutch one, about 4,700 rules, takes a second to make)."""
    import spacy

    if SHARED_TOKENIZER not in spacy.registry.tokenizers:
        spacy.registry.tokenizers.register(SHARED_TOKENIZER, func=lambda: lambda nlp: KeyTokenizer(nlp.vocab))


def cached(cache_dir: Path | None, name: str, fingerprint: str, train: Callable, *, retrain: bool = False):
    """The model `name` trained on data with this fingerprint: loaded from `cache_dir` when it is there,
    else (or when `retrain`) trained and stored there. A model is written aside and then renamed, so
    processes training at once never read a half-written one; models of earlier data are removed, as they
    are never used again."""
    import spacy

    _register_shared_tokenizer()
    path = cache_dir / f"{name}-{fingerprint}" if cache_dir else None
    if path and path.exists() and not retrain:
        return spacy.load(path, config={"nlp": {"tokenizer": {"@tokenizers": SHARED_TOKENIZER}}}, exclude=["tokenizer"])
    log.info("training the %s model", name)
    nlp = train()
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            nlp.to_disk(Path(tmp) / "model")
            if retrain:
                shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(OSError):  # another process got there first: the same model
                os.replace(Path(tmp) / "model", path)
        for old in path.parent.glob(f"{name}-*"):
            if old != path:
                shutil.rmtree(old, ignore_errors=True)
    return nlp
