"""The trained second opinion of the safety check: a text classifier that catches paraphrases.

It is trained on a generated set, never on an evaluation set, of two kinds. Composed: thousands of
messages built from the criteria themselves (``intents/data/safety/``). Each criterion's rules are
spelled out with words of their groups, in templates with people, times and pleas, and the words between
them shuffled and padded; the same signs inside negation, history, courses and what-if framing, the
figures of speech, and the ordinary questions the NLU is trained on make the calm side. And paraphrased
(``intents/data/safety/paraphrases/``): for every criterion, messages written from its description in
docs/safety.md by writers who saw neither the rules nor any evaluation set - the everyday ways residents
tell a sign, in six languages, and calm look-alikes beside them.
The rules explain; the model sees the message as a bag of words, so it still notices signs that the
rules' word windows and word order miss.

spaCy's ``TextCatBOW`` (exclusive classes: calm, 112, 113, veilig-thuis, huisartsenpost) over the same
word keys the rules use; fixed seed, trained at first use (about half a minute) and cached in the data
directory keyed by a hash of the data, the generator and spaCy's version. ``intents.safety`` counts it as one more
voter: alone it can ask the safety question, with a doubtful sign of the same resource it escalates, and
all but certain (criteria.yaml's ``model.sure``) it escalates on its own where no context dismissed the signs.
"""

from __future__ import annotations

import hashlib
import random
from functools import cache
from pathlib import Path

from bot.floor import yamlfile
from intents.terms import tokenize, top_level_parts

LABELS = ("calm", "112", "113", "veilig-thuis", "huisartsenpost")
SEED = 20261202
EPOCHS = 8
PER_CRITERION = 120  # generated messages per criterion (direct and doubt rules alike)
GENERATOR_VERSION = "3"
PARAPHRASE_REPEAT = 3  # each paraphrase counts this many times against the composed messages

WHO = [
    "mijn vader",
    "mijn moeder",
    "mijn man",
    "mijn vrouw",
    "mijn zoon",
    "mijn dochter",
    "de buurman",
    "de buurvrouw",
    "mijn vriendin",
    "mijn opa",
    "mijn oma",
    "mijn broer",
    "ik",
    "hij",
    "zij",
    "ons kind",
    "een collega",
    "my dad",
    "my mum",
    "my friend",
    "my husband",
    "my wife",
    "my son",
    "I",
]
INTRO = [
    "",
    "",
    "hallo",
    "hoi",
    "goedemiddag",
    "sorry dat ik stoor",
    "ik weet niet of dit hier kan maar",
    "help",
    "vraagje",
    "hi",
    "please help",
    "ik heb een vraag over de buurt maar eerst dit",
]
TIME = [
    "",
    "",
    "net",
    "nu",
    "sinds een uur",
    "vanavond",
    "al de hele dag",
    "sinds vanochtend",
    "ineens",
    "just now",
    "right now",
    "sinds gisteren",
]
PLEA = [
    "",
    "",
    "wat moet ik doen",
    "help",
    "wat nu?",
    "is dit erg?",
    "ik weet het niet meer",
    "what should I do",
    "kunnen jullie helpen",
    "moet ik iemand bellen?",
]
FILLER = ["en", "ook", "echt", "heel", "nu", "dan", "gewoon", "en toen", "maar", "zo", "best", "wel", "and", "really"]
CALM_FRAMES = [
    "ik heb geen {sign}",
    "vorig jaar {sign}, nu gaat het goed",
    "jaren geleden {sign}",
    "ik wil een cursus over {sign}",
    "wat moet je doen als iemand {sign}?",
    "er is een voorlichtingsavond over {sign}",
    "ik lees een boek over {sign}",
    "mijn moeder had ooit {sign}, nu is ze weer de oude",
    "voor school maak ik een werkstuk over {sign}",
    "is er een EHBO cursus, bijvoorbeeld bij {sign}",
    "{sign} haha grapje, ik zoek een sportclub",
    "what should you do if someone {sign}",
    "we hadden een training over {sign}",
]


# Everyday questions in every language the safety check reads, filled with the stream cues' services ({x})
# and needs ({n}): the calm side must hold the other languages' ordinary words too, or the model learns
# that a language, rather than a sign, means danger.
CALM_TEMPLATES = {
    "nl": [
        "niet dringend, maar ik heb een vraag over {n}",
        "ik weet niet waar ik heen moet met {n}",
        "is er {x} in de buurt?",
        "mijn {who} heeft {n}, waar kunnen we terecht?",
        "is {x} in het weekend open?",
    ],
    "en": [
        "is there a {x} in the neighbourhood?",
        "where can I find {x}?",
        "I am looking for {x} for my {who}",
        "my {who} needs {x}, how do I arrange that?",
        "I have had {n} for a while, can I see a {x}?",
        "is the {x} open at the weekend?",
        "not urgent, but I have a question about {n}",
    ],
    "pl": [
        "czy jest {x} w okolicy?",
        "szukam {x} dla mamy",
        "nie wiem, gdzie jest {x}",
        "mam {n}, czy potrzebne jest skierowanie?",
        "czy {x} jest otwarty w sobotę?",
        "nie jest pilne, pytam o {x}",
    ],
    "tr": [
        "yakında {x} var mı?",
        "annem için {x} arıyorum",
        "{x} nerede bilmiyorum",
        "{n} var, {x} gerekli mi?",
        "acil değil, {x} hakkında sorum var",
    ],
    "ar": [
        "هل يوجد {x} قريب؟",
        "أبحث عن {x} لأمي",
        "لا أعرف أين {x}",
        "عندي {n}، هل أحتاج {x}؟",
        "ليس مستعجلاً، عندي سؤال عن {x}",
    ],
    "uk": [
        "чи є {x} поруч?",
        "шукаю {x} для мами",
        "не знаю, де {x}",
        "маю {n}, чи потрібен {x}?",
        "не терміново, маю питання про {x}",
    ],
}
CALM_PER_TEMPLATE = 40


def _expand(pattern: str, rng: random.Random) -> str:
    """One surface form of a term: an alternative chosen, an optional part sometimes, gaps filled."""
    out = []
    for part in top_level_parts(str(pattern)):
        if part.startswith("~"):
            out.extend(rng.sample(FILLER, rng.randint(0, 1)))
            continue
        optional = part.endswith(")?")
        if optional and rng.random() < 0.5:
            continue
        inner = part[1:-2] if optional else part[1:-1] if part.startswith("(") and part.endswith(")") else part
        choice = rng.choice(inner.split("|")) if part.startswith("(") else inner
        out.append(choice.strip("*=").replace("*", ""))
    return " ".join(w for w in out if w)


def _sign(rule, groups: dict, rng: random.Random) -> str:
    pieces = [_expand(rng.choice(groups[g.rstrip("@")]), rng) for g in rule]
    if rng.random() < 0.3:
        rng.shuffle(pieces)
    glue = [rng.choice(["", "", rng.choice(FILLER)]) for _ in pieces]
    return " ".join(f"{p} {g}".strip() for p, g in zip(pieces, glue, strict=True)).strip()


def _message(sign: str, rng: random.Random) -> str:
    parts = [rng.choice(INTRO), rng.choice(WHO), sign, rng.choice(TIME), rng.choice(PLEA)]
    text = " ".join(p for p in parts if p)
    return text.lower() if rng.random() < 0.5 else text


def paraphrases(data_dir: Path) -> list[tuple[str, str]]:
    """The paraphrased messages as (text, label) pairs."""
    from intents.textcat import labelled

    return [
        pair for path in sorted((data_dir / "paraphrases").glob("*.jsonl")) for pair in labelled(path, "label", LABELS)
    ]


def generate(data_dir: Path, ordinary: list[str], seed: int = SEED) -> list[tuple[str, str]]:
    """The training set: composed and paraphrased (text, label) pairs."""
    rng = random.Random(seed)
    groups = yamlfile.safe_load((data_dir / "words.yaml").read_text(encoding="utf-8"))["groups"]
    criteria = yamlfile.safe_load((data_dir / "criteria.yaml").read_text(encoding="utf-8"))["criteria"]
    context = yamlfile.safe_load((data_dir / "context.yaml").read_text(encoding="utf-8"))
    out: list[tuple[str, str]] = []
    signs: list[str] = []
    for criterion in criteria:
        rules = [*(criterion.get("direct") or []), *(criterion.get("doubt") or [])]
        if not rules:
            continue
        for _ in range(PER_CRITERION):
            sign = _sign(rng.choice(rules), groups, rng)
            signs.append(sign)
            out.append((_message(sign, rng), criterion["resource"]))
    for _ in range(len(signs) // 2):  # the same signs, meant otherwise
        out.append((rng.choice(CALM_FRAMES).format(sign=rng.choice(signs)), "calm"))
    out.extend((_expand(idiom, rng), "calm") for idiom in context.get("idioms", []) for _ in range(5))
    out.extend((text, "calm") for text in ordinary)
    cues = yamlfile.safe_load((data_dir.parent / "stream_cues.yaml").read_text(encoding="utf-8"))
    services = [t for stream in cues.values() for t in stream.get("service", [])]
    needs = [t for stream in cues.values() for t in stream.get("need", [])]
    for templates in CALM_TEMPLATES.values():
        for template in templates:
            for _ in range(CALM_PER_TEMPLATE):
                out.append(
                    (
                        template.format(
                            x=_expand(rng.choice(services), rng),
                            n=_expand(rng.choice(needs), rng),
                            who=rng.choice(["mother", "moeder", "son", "zoon", "vader", "father"]),
                        ),
                        "calm",
                    )
                )
    out.extend(pair for pair in paraphrases(data_dir) for _ in range(PARAPHRASE_REPEAT))
    rng.shuffle(out)
    return out


def _keys(text: str) -> str:
    return " ".join(sorted(k for t in tokenize(text).items for k in t.keys)) or "_"


class SafetyModel:
    def __init__(self, nlp):
        self.nlp = nlp

    def predict(self, text: str) -> dict[str, float]:
        """The probability of each resource (calm left out)."""
        cats = self.nlp(_keys(text[:2000]))
        return {label: float(cats[label]) for label in LABELS if label != "calm"}


def _ordinary() -> list[str]:
    from intents.nlu import examples

    return [text for kind in ("stream", "intent") for text, _ in examples(kind)]


def _fingerprint(data_dir: Path) -> str:
    from importlib.metadata import version

    from intents.nlu import training_files

    digest = hashlib.sha256(f"{version('spacy')}/{SEED}/{EPOCHS}/{PER_CRITERION}/{GENERATOR_VERSION}".encode())
    for path in sorted([*data_dir.glob("*.yaml"), data_dir.parent / "stream_cues.yaml", *training_files()]):
        digest.update(path.read_bytes())
    for path in sorted((data_dir / "paraphrases").glob("*.jsonl")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def train(data_dir: Path):
    from intents.textcat import train_bow

    pairs = [(_keys(text), label) for text, label in generate(data_dir, _ordinary())]
    return train_bow(pairs, LABELS, seed=SEED, epochs=EPOCHS, batch_size=32)


def load_or_train(cache_dir: Path | None, data_dir: Path) -> SafetyModel:
    from intents.textcat import cached

    return SafetyModel(cached(cache_dir, "safety", _fingerprint(data_dir), lambda: train(data_dir)))


@cache
def default_model() -> SafetyModel:
    from bot.floor.config import Settings
    from intents.safety import DATA

    return load_or_train(Settings().cache_dir, DATA)
