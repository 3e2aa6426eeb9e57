"""Red flags: checked first on every typed message, before anything is interpreted.

The criteria are data (``intents/data/safety/``), organised as docs/safety.md lists them: each
criterion is a sign, symptom or situation from a published source (NTS/ABCDE, 113's warning signs,
Veilig Thuis' signs, the huisartsenpost's urgency), with the resource it needs and rules over word
groups ("breathing" near "absent"). A message is

1. tokenised in any script, typos and compounds included (``intents.terms``);
2. searched for every word group at once; figures of speech ("ik ga dood van het lachen") are blanked;
3. matched against the criteria: a *direct* rule is a clear sign, a *doubt* rule a partial one;
4. put in context (``intents.context``): negated, historical, resolved or framed mentions (a course, a
   talk, a what-if question) do not count; a joke turns a clear sign into a doubtful one;
5. decided: the most urgent resource with a clear sign is escalated at once (112 > 113 > Veilig Thuis >
   huisartsenpost); two different doubtful signs for one resource count as a clear one; otherwise a
   doubtful sign, or the trained second opinion (``intents.safety_model``) being sure enough, makes
   Wijkbot ask one direct safety question; the second opinion all but certain escalates on its own.
   Huisartsenpost signs count outside GP office hours only,
   except clear ones, which in office hours send the resident to their own GP today.

Nothing here logs or keeps message text: an :class:`Assessment` names criteria, never words.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from bot.floor import yamlfile
from bot.floor.clock import office_hours
from intents import languages
from intents.context import Context
from intents.terms import CompiledTerms, TermSet, Tokens, Vocabulary, tokenize

log = logging.getLogger(__name__)
DATA = Path(__file__).with_name("data") / "safety"
PRIORITY = ("112", "113", "veilig-thuis", "huisartsenpost")
KINDS = ("sign", "symptom", "situation")
SUPPRESSING = frozenset({"negated", "historical", "resolved", "framed"})
SOFTENING = frozenset({"joke", "mild", "reassured"})  # a clear sign said as a joke, played down or reassured;
# reassuring signs ("speelt, drinkt goed") lower a doubtful huisartsenpost sign too (context.yaml says for which)
LEVELS = {"direct": 1.0, "doubt": 0.5, "cue": 0.25}  # a rule's weight; per resource the criteria add up
DIRECT, DOUBT = 1.0, 0.5  # escalate at DIRECT, ask at DOUBT
UNLESS_WITHIN = 3
ANSWER_WORDS = 8  # a reply to the safety question longer than this is not a plain yes or no
REPLY_LANGUAGES = ("nl", "en", "tr", "ar", "pl", "uk")


@dataclass(frozen=True)
class Criterion:
    id: str
    resource: str
    kind: str
    criterion: str
    source: str
    within: int
    direct: tuple[tuple[str, ...], ...]
    doubt: tuple[tuple[str, ...], ...]
    cue: tuple[tuple[str, ...], ...]
    unless: tuple[str, ...]
    unless_within: int = 3  # how near the mention an `unless` group must be
    examples: dict = field(default_factory=dict, compare=False)

    def rules(self, people: frozenset[str] = frozenset()) -> list[tuple[str, tuple[str, ...], frozenset[str]]]:
        """(level, rule, the word groups it needs) for every rule, clear ones first. Groups of `people`
        (who is involved) may be anywhere in the message: they go last, marked 'name@'."""
        out = []
        for level in LEVELS:
            for rule in getattr(self, level):
                signs = [g for g in rule if g.rstrip("@") not in people]
                who = [g.rstrip("@") + "@" for g in rule if g.rstrip("@") in people]
                ordered = tuple(signs + who) if signs else tuple(rule)
                out.append((level, ordered, frozenset(g.rstrip("@") for g in rule)))
        return out


@dataclass(frozen=True)
class Finding:
    criterion: str
    resource: str
    level: str  # "direct" | "doubt" | "cue"
    qualifiers: frozenset[str]
    span: tuple[int, int]

    @property
    def counts(self) -> bool:
        return not self.qualifiers & SUPPRESSING


@dataclass(frozen=True)
class Assessment:
    """What the safety check decided about one message (no message text in here)."""

    escalate_to: str | None  # escalate at once to this resource
    check: str | None  # else: ask the direct safety question for this resource
    flags: tuple[str, ...]  # the criteria that decided
    language: str  # the language of the message, for the reply
    about_other: bool  # the danger is someone else's
    out_of_hours: bool
    findings: tuple[Finding, ...] = ()
    model: dict[str, float] = field(default_factory=dict)  # the second opinion's probabilities


class Safety:
    def __init__(self, data_dir: Path = DATA, model=None, cache_dir: Path | None = None):
        """`cache_dir`: where the compiled word groups are kept between starts (none: compiled each time)."""
        compiler = CompiledTerms.of(cache_dir, "safety") if data_dir == DATA else CompiledTerms(None)
        words = yamlfile.safe_load((data_dir / "words.yaml").read_text(encoding="utf-8"))
        criteria = yamlfile.safe_load((data_dir / "criteria.yaml").read_text(encoding="utf-8"))
        context = yamlfile.safe_load((data_dir / "context.yaml").read_text(encoding="utf-8"))
        self.texts = yamlfile.safe_load((data_dir / "replies.yaml").read_text(encoding="utf-8"))
        self.terms = TermSet(compile=compiler)
        for name, patterns in words["groups"].items():
            self.terms.add(name, patterns)
        self.terms.add("_idiom", context.get("idioms", []))
        self.terms.add("_after_hours", context.get("after_hours", []))
        self.terms.add("_other", context.get("someone_else", []))
        self.terms.add("_self", context.get("self", []))
        self.context = Context(context, self.terms)
        self.people = frozenset(words.get("people", []))
        self.criteria = [self._criterion(c, words["groups"]) for c in criteria["criteria"]]
        self._rules = [(c, c.rules(self.people)) for c in self.criteria]
        self.vocabulary = Vocabulary(self.terms.words())
        self._answers = TermSet(compile=compiler)
        for kind, patterns in self.texts["answers"].items():
            self._answers.add(kind, patterns)
        compiler.save()
        self.resources = frozenset(PRIORITY)
        self.model = model
        self.model_votes = dict(criteria["model"])  # {alone, confirm}: criteria.yaml says why

    @staticmethod
    def _criterion(raw: dict, groups: dict) -> Criterion:
        rules = {level: tuple(tuple(r) for r in raw.get(level, []) or []) for level in LEVELS}
        unknown = {g.rstrip("@") for rs in rules.values() for r in rs for g in r} | set(raw.get("unless", []))
        unknown -= set(groups)
        if unknown or raw["resource"] not in PRIORITY or raw.get("kind", "sign") not in KINDS:
            raise ValueError(f"criterion {raw['id']}: unknown word groups {sorted(unknown)} or resource/kind")
        return Criterion(
            raw["id"],
            raw["resource"],
            raw.get("kind", "sign"),
            raw.get("criterion", ""),
            raw.get("source", ""),
            int(raw.get("within", 9)),
            rules["direct"],
            rules["doubt"],
            rules["cue"],
            tuple(raw.get("unless", [])),
            int(raw.get("unless_within", UNLESS_WITHIN)),
            raw.get("examples", {}) or {},
        )

    # --- finding -----------------------------------------------------------------------------------

    def findings(self, tokens: Tokens, found: dict) -> list[Finding]:
        """Every rule that matches, once per rule: where it counts if it counts anywhere."""
        out = []
        present = found.keys()
        for criterion, rules in self._rules:
            for level, rule, needs in rules:
                if needs <= present:
                    first = None
                    for elements in _together(found, rule, criterion.within):
                        if any(_near(found.get(g, ()), elements, criterion.unless_within) for g in criterion.unless):
                            continue
                        span = (min(e[0] for e in elements), max(e[1] for e in elements))
                        local = [e for e, g in zip(elements, rule, strict=True) if not g.endswith("@")]
                        finding = Finding(
                            criterion.id,
                            criterion.resource,
                            level,
                            self.context.qualify(tokens, found, local, criterion.resource),
                            span,
                        )
                        first = first or finding
                        if finding.counts:
                            first = finding
                            break
                    if first:
                        out.append(first)
        return out

    def assess(self, text: str, now: datetime | None = None) -> Assessment:
        """Never raises on odd input; empty text is calm."""
        if not text or not text.strip():
            return Assessment(None, None, (), "nl", False, False)
        tokens = tokenize(text, self.vocabulary)
        found = self.terms.find(tokens)
        idioms = found.get("_idiom", ())
        if idioms:  # figures of speech hide the signs inside them, not the context around them
            found = {
                name: spans
                if name.startswith("context:")
                else [s for s in spans if not any(i[0] <= s[0] and s[1] <= i[1] for i in idioms)]
                for name, spans in found.items()
            }
        findings = self.findings(tokens, found)
        after_hours = not office_hours(now) if now is not None else bool(found.get("_after_hours"))
        model = self.model.predict(text) if self.model is not None else {}  # words no rule holds count too
        weight = _weights(findings, after_hours)
        escalate, check = self.decide(findings, weight, model, after_hours)
        decided = escalate or check
        flags = tuple(sorted(weight.get(decided, {}), key=lambda c: -weight[decided][c])) if decided else ()
        if decided and not flags:
            flags = ("second_opinion",)
        return Assessment(
            escalate,
            check,
            flags,
            languages.detect(text) if decided else "nl",
            bool(found.get("_other")) and not found.get("_self"),
            after_hours,
            tuple(findings),
            model,
        )

    def decide(
        self, findings: list[Finding], weight: dict[str, dict[str, float]], model: dict[str, float], after_hours: bool
    ) -> tuple[str | None, str | None]:
        """(escalate to, else ask about): the rules' weights per resource, with the second opinion's vote."""
        rules = {r: sum(per.values()) for r, per in weight.items()}
        escalate = next((r for r in PRIORITY if rules.get(r, 0.0) >= DIRECT), None)
        # the second opinion is one more voter: alone it can ask, with a doubtful sign of the same resource
        # it escalates, all but certain it escalates alone; it never overrules a clear sign elsewhere (above).
        # Where the rules read signs of a resource and their context took all of them away (negated, past,
        # a course), the bag-of-words model, which cannot read context, neither asks nor escalates alone
        dismissed = {f.resource for f in findings if not f.counts} - {f.resource for f in findings if f.counts}
        # signs said as a joke or played down are the rules' to weigh: the model neither confirms nor raises them
        joking = {f.resource for f in findings if f.counts and f.qualifiers & {"joke", "mild"}} - {
            f.resource for f in findings if f.counts and not f.qualifiers & {"joke", "mild"}
        }
        considered = [r for r in PRIORITY if r != "huisartsenpost" or after_hours]
        check = None
        if escalate is None:
            escalate = next(
                (
                    r
                    for r in considered
                    if r not in joking
                    and (
                        (rules.get(r, 0.0) >= DOUBT and model.get(r, 0.0) >= self.model_votes["confirm"])
                        or (r not in dismissed and model.get(r, 0.0) >= self.model_votes["sure"])
                    )
                ),
                None,
            )
        if escalate is None:
            check = next(
                (
                    r
                    for r in considered
                    if rules.get(r, 0.0) >= DOUBT
                    or (r not in dismissed | joking and model.get(r, 0.0) >= self.model_votes["alone"])
                ),
                None,
            )
        return escalate, check

    # --- what to say ---------------------------------------------------------------------------------

    def _text(self, section: str, key: str, language: str) -> str:
        """Dutch, followed by the resident's own language when it is another (English for the rest)."""
        texts = self.texts[section][key]
        nl = texts["nl"].strip()
        if language == "nl":
            return nl
        other = texts.get(language if language in REPLY_LANGUAGES else "en", texts["en"]).strip()
        return f"{nl}\n\n{other}"

    def reply(self, resource: str, language: str = "nl", now: datetime | None = None) -> str:
        key = resource
        if resource == "huisartsenpost" and now is not None and office_hours(now):
            key = "own_gp_today"
        return self._text("replies", key, language)

    def question(self, resource: str, language: str = "nl", about_other: bool = False) -> str:
        key = f"{resource}:other" if about_other and f"{resource}:other" in self.texts["questions"] else resource
        return self._text("questions", key, language)

    def button(self, key: str, language: str = "nl") -> str:
        labels = self.texts["buttons"][key]
        nl = labels["nl"]
        other = labels.get(language if language in REPLY_LANGUAGES else "en", labels["en"])
        return nl if language == "nl" or other == nl else f"{nl} / {other}"

    def safe_text(self, language: str = "nl") -> str:
        return self._text("texts", "safe", language)

    def unanswered(self, language: str = "nl") -> str:
        return self._text("texts", "unanswered", language)

    def answer(self, text: str) -> str:
        """A typed reply to the safety question: "no" only when it is short and clearly no, "yes" when it
        says yes or shows doubt ("soms", "weet ik niet", "nee maar ..."), else "unclear" (no answer)."""
        tokens = tokenize(text)
        found = self._answers.find(tokens)
        starts_no = any(start <= 1 for start, _ in found.get("no", ()))
        if starts_no and len(tokens) <= ANSWER_WORDS and not found.get("worry"):
            return "no"
        if found.get("yes") or found.get("worry"):
            return "yes" if len(tokens) <= ANSWER_WORDS or any(s <= 1 for s, _ in found.get("yes", ())) else "unclear"
        return "unclear"


def _weights(findings: list[Finding], after_hours: bool) -> dict[str, dict[str, float]]:
    """resource -> criterion -> weight of the findings that count (huisartsenpost doubts out of hours only)."""
    weight: dict[str, dict[str, float]] = {}
    for f in findings:
        softened = (f.qualifiers & SOFTENING and f.level == "direct") or "reassured" in f.qualifiers
        w = LEVELS[f.level] / 2 if softened else LEVELS[f.level]
        if not f.counts or (f.resource == "huisartsenpost" and not after_hours and w < DIRECT):
            continue
        per = weight.setdefault(f.resource, {})
        per[f.criterion] = max(per.get(f.criterion, 0.0), w)
    return weight


def _gap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, b[0] - a[1], a[0] - b[1])


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a != b


def _together(found: dict, groups, within: int):
    """Each way (one per place of the first group) in which every group occurs within `within` words of
    the first group's span: the spans chosen, one per group, no two overlapping (a compound word may
    hold two groups: 'borstpijn'), none chosen twice. A group written 'name@' may be anywhere in the
    message (who is involved is often said once, at the start)."""
    names = [g.rstrip("@") for g in groups]
    spans = [found.get(g) for g in names]
    if not all(spans):
        return
    anywhere = [g.endswith("@") for g in groups]
    for anchor in spans[0]:
        chosen = [anchor]
        for options, free in zip(spans[1:], anywhere[1:], strict=True):
            fits = [
                s
                for s in options
                if (free or _gap(anchor, s) <= within)
                and s not in chosen[1:]
                and not any(_overlap(s, c) for c in chosen)
            ]
            if not fits:
                break
            chosen.append(min(fits, key=lambda s: _gap(anchor, s)))
        else:
            yield chosen


def _near(spans, elements: list[tuple[int, int]], within: int) -> bool:
    return any(_gap(s, e) <= within for s in spans for e in elements)


@cache
def safety() -> Safety:
    """The process-wide safety check, with its trained second opinion (trained once, then cached)."""
    from bot.floor.config import Settings
    from intents.language import shipped_keys
    from intents.safety_model import default_model

    with shipped_keys("safety"):
        return Safety(model=default_model(), cache_dir=Settings().cache_dir)
