"""Context of a mention, after the ConText algorithm (Chapman et al. 2001; Harkema et al. 2009).

A *mention* is a span of tokens where a red-flag sign was found. Trigger terms around it say how it is
meant: negated ("geen pijn op de borst"), historical ("jaren geleden"), resolved ("nu gaat het weer
prima"), framed as a course, a talk, a story or a what-if question ("cursus reanimatie", "wat moet je
doen als"), said as a joke ("haha"), played down ("een beetje") or with reassuring signs ("ze speelt en
drinkt goed"). Each rule has a direction (a trigger
before the mention acts forward, one after it backward), a scope in words, how far it reaches (the
clause, the sentence or the whole message) and terminators that end its scope ("maar", "nu"). A trigger
that is one of the mention's own words never counts ("hij ademt niet" is a sign, not a negated one), and
*pseudo-triggers* cancel a trigger they overlap ("het gaat niet weg" is no negation).

The rules are data (``intents/data/safety/context.yaml``), written for chat: short, unpunctuated,
colloquial, several languages. clinlp's Dutch context algorithm was measured for this and not adopted
(see docs/safety.md): its rules are written for clinical notes, and it is slower than the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from intents.terms import TermSet, Tokens

QUALIFIERS = ("negated", "historical", "resolved", "framed", "joke", "mild", "reassured")
REACH = ("clause", "sentence", "message")


@dataclass(frozen=True)
class ContextRule:
    qualifier: str
    direction: str  # forward | backward | both
    scope: int  # words between the trigger and the mention
    reach: str  # clause | sentence | message
    group: str  # the trigger terms' group in the TermSet
    stop: str | None  # the terminators' group
    only: frozenset[str] = frozenset()  # the resources it applies to (empty: all)

    def applies(self, tokens: Tokens, found: dict, trigger: tuple[int, int], mention: tuple[int, int]) -> bool:
        before = trigger[1] <= mention[0]
        if (self.direction == "forward" and not before) or (self.direction == "backward" and before):
            return False
        gap = (trigger[1], mention[0]) if before else (mention[1], trigger[0])
        if gap[1] - gap[0] > self.scope:
            return False
        items = tokens.items
        a, b = items[trigger[0]], items[mention[0] if before else mention[1] - 1]
        if self.reach == "clause" and a.clause != b.clause:
            return False
        if self.reach == "sentence" and a.sentence != b.sentence:
            return False
        return not any(gap[0] <= s < gap[1] for s, _ in found.get(self.stop, ()))


class Context:
    """Qualifies mentions with the rules of one data file."""

    def __init__(self, data: dict, terms: TermSet):
        self.rules: list[ContextRule] = []
        for n, rule in enumerate(data["rules"]):
            if rule["qualifier"] not in QUALIFIERS or rule.get("reach", "sentence") not in REACH:
                raise ValueError(f"context rule {n}: unknown qualifier or reach")
            group, stop = f"context:{n}", (f"context:{n}:stop" if rule.get("terminators") else None)
            terms.add(group, rule["triggers"])
            if stop:
                terms.add(stop, rule["terminators"])
            self.rules.append(
                ContextRule(
                    rule["qualifier"],
                    rule.get("direction", "both"),
                    int(rule.get("scope", 6)),
                    rule.get("reach", "sentence"),
                    group,
                    stop,
                    frozenset(rule.get("only", [])),
                )
            )
        terms.add("context:pseudo", data.get("pseudo", []))

    def qualify(
        self, tokens: Tokens, found: dict, elements: list[tuple[int, int]], resource: str | None = None
    ) -> frozenset[str]:
        """The qualifiers of a mention made of these word spans (its elements), for a sign of `resource`.
        A trigger that is one of the mention's own words never counts; a trigger that qualifies any
        element qualifies the mention."""
        pseudo = found.get("context:pseudo", ())
        out = set()
        for rule in self.rules:
            if rule.qualifier in out or (rule.only and resource not in rule.only):
                continue
            for trigger in found.get(rule.group, ()):
                if any(_overlaps(p, trigger) for p in pseudo) or any(_overlaps(e, trigger) for e in elements):
                    continue
                if any(rule.applies(tokens, found, trigger, e) for e in elements):
                    out.add(rule.qualifier)
                    break
        return frozenset(out)


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
