"""Red-flag detection: runs first on every resident message, before anything else.

Patterns are data (``intents/data/redflags.yaml``). A message is normalised (folded words,
'mn' -> 'mijn'), misspellings of red-flag words are corrected (rapidfuzz against the words the
patterns use), known look-alikes ("ik lach me dood", "EHBO-cursus reanimeren") are blanked out, and
then every flag's patterns are tried. The most urgent match wins: 112 > 113 > veilig-thuis >
huisartsenpost. When in doubt, the patterns are written to escalate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

from bot.clock import LOCAL_TZ
from intents.language import dutch, words

REDFLAGS = Path(__file__).with_name("data") / "redflags.yaml"
PRIORITY = ("112", "113", "veilig-thuis", "huisartsenpost")


@dataclass(frozen=True)
class Escalation:
    escalate_to: str  # "112" | "113" | "veilig-thuis" | "huisartsenpost"
    flag: str  # which red flag matched (an id from the data, never message text)
    reply: str


@dataclass(frozen=True)
class _Flag:
    id: str
    escalate_to: str
    patterns: tuple[re.Pattern, ...]
    together: tuple[tuple[int, tuple[re.Pattern, ...]], ...]  # (within, word groups that must all occur)
    when: tuple[re.Pattern, ...]  # if given, one of these must match too (e.g. outside office hours)
    unless: tuple[re.Pattern, ...]

    def fires(self, norm: str) -> bool:
        hit = any(p.search(norm) for p in self.patterns) or any(
            _near(norm, groups, within) for within, groups in self.together)
        return (hit and (not self.when or any(w.search(norm) for w in self.when))
                and not any(u.search(norm) for u in self.unless))


def _positions(norm: str, group: re.Pattern) -> list[int]:
    return [norm.count(" ", 0, m.start()) for m in group.finditer(norm)]


def _near(norm: str, groups: tuple[re.Pattern, ...], within: int) -> bool:
    """True when every group matches somewhere and all of them within a window of `within` words."""
    positions = [_positions(norm, g) for g in groups]
    if not all(positions):
        return False
    return any(all(any(abs(q - p) <= within for q in others) for others in positions[1:]) for p in positions[0])


def _compile(pattern: str) -> re.Pattern:
    """Compile one pattern. Syntax, over folded words separated by single spaces:
    ``(a|b)`` alternatives, ``word*`` any word starting so, ``~`` up to 3 other words (``~6``: up to 6),
    ``(group)?`` an optional group. A pattern matches whole words only."""
    pieces = []
    for part in _top_level_parts(pattern):
        gap = re.fullmatch(r"~(\d*)", part)
        if gap:
            pieces.append(rf"(?:\S+ ){{0,{int(gap.group(1) or 3)}}}")
        elif part.endswith(")?"):
            pieces.append("(?:" + _inner(part[:-1]) + " )?")
        else:
            pieces.append(_inner(part) + " ")
    return re.compile(r"(?<!\S)" + "".join(pieces))


def _inner(part: str) -> str:
    """One top-level piece: a word or an alternatives group, whose own words are separated by a space."""
    return re.sub(r"\s+", " ", part).replace("*", r"\w*")


def _top_level_parts(pattern: str) -> list[str]:
    """Split on spaces outside parentheses: '(pijn op de borst|chest pain) nu' -> 2 parts."""
    parts, depth, current = [], 0, ""
    for char in pattern.strip():
        depth += (char == "(") - (char == ")")
        if char == " " and depth == 0:
            if current:
                parts.append(current)
            current = ""
        else:
            current += char
    if current:
        parts.append(current)
    return parts


def _alternatives(group: list[str]) -> re.Pattern:
    """One word group of a `together` rule: any of its words or phrases (same syntax as patterns)."""
    return re.compile("|".join(f"(?:{_compile(str(w)).pattern})" for w in group))


def _groups(rule) -> list[list]:
    """A `together` rule is a list of word groups, or {within: N, all: [groups]}."""
    return rule["all"] if isinstance(rule, dict) else rule


def _rule(rule, within: int) -> tuple[int, tuple[re.Pattern, ...]]:
    if isinstance(rule, dict):
        within = int(rule.get("within", within))
    return within, tuple(_alternatives(g) for g in _groups(rule))


class Safety:
    def __init__(self, path: Path = REDFLAGS):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.replies: dict[str, str] = data["replies"]
        self.office_hours_reply: str = data["office_hours_reply"]
        self.idioms = tuple(_compile(p) for p in data.get("idioms", []))
        self.flags: list[_Flag] = []
        vocabulary: set[str] = set()
        for flag in data["flags"]:
            if flag["escalate_to"] not in PRIORITY:
                raise ValueError(f"red flag {flag['id']}: unknown escalate_to {flag['escalate_to']!r}")
            self.flags.append(_Flag(
                flag["id"], flag["escalate_to"],
                tuple(_compile(p) for p in flag.get("patterns", [])),
                tuple(_rule(rule, int(flag.get("within", 8))) for rule in flag.get("together", [])),
                tuple(_compile(p) for p in flag.get("when", [])),
                tuple(_compile(p) for p in flag.get("unless", [])),
            ))
            words_in_rules = (w for rule in flag.get("together", []) for g in _groups(rule) for w in g)
            for p in [*flag.get("patterns", []), *words_in_rules, *data.get("idioms", [])]:
                vocabulary.update(w for w in re.findall(r"[a-z]+", str(p)) if len(w) >= 5)
        self.vocabulary = sorted(vocabulary)
        self._vocab_set = frozenset(vocabulary)

    def normalise(self, text: str) -> str:
        nl = dutch()
        out = []
        for tok in words(text[:5000]):
            tok = nl.irregular.get(tok, tok)
            if len(tok) >= 5 and tok not in self._vocab_set and not tok.isdigit() and not nl.is_dutch_word(tok):
                best = process.extractOne(tok, self.vocabulary, scorer=fuzz.ratio, score_cutoff=84)
                if best:
                    tok = best[0]
            out.append(tok)
        return " " + " ".join(out) + " "

    def check(self, text: str, now: datetime | None = None) -> Escalation | None:
        """The escalation a message needs, or None. Never raises on odd input."""
        if not text or not text.strip():
            return None
        norm = self.normalise(text)
        for idiom in self.idioms:
            norm = idiom.sub(lambda m: "_ " * len(m.group(0).split()), norm)
        found = [flag for flag in self.flags if flag.fires(norm)]
        if not found:
            return None
        best = min(found, key=lambda f: PRIORITY.index(f.escalate_to))
        reply = self.replies[best.escalate_to]
        if best.escalate_to == "huisartsenpost" and now is not None and _office_hours(now):
            reply = self.office_hours_reply
        return Escalation(best.escalate_to, best.id, reply)


def _office_hours(now: datetime) -> bool:
    local = now.astimezone(LOCAL_TZ)
    return local.weekday() < 5 and 8 <= local.hour < 17


@cache
def safety() -> Safety:
    return Safety()
