"""Every user-facing sentence is data: the catalogue (bot/floor/texts.py) checked against the code.

Static checks, with `ast`, over every product module (bot/, intents/, jobs/, knowledge/, socialekaart/):

(a) every key a ``say("...")``, ``words("...")`` or ``labels(x="...")`` call names is in texts.nl.yaml,
    and of the right kind (a text for say and labels, a list for words);
(b) the keywords a ``say`` call passes are exactly the placeholders of the Dutch text and of the English one;
(c) every key of texts.nl.yaml is used: named by such a call, or matched by the literal start of an
    f-string key (``say(f"roles.{role}")``; there are none yet, keep them rare);
(d) the same for the ``texts`` and ``buttons`` of intents/data/dialogue.yaml, whose keys the code looks
    up as string literals (``t["welcome"]``, ``t.get("rsvp_unknown")``) or as the literal start and end of
    an f-string (``self.t[f"agenda_ask_{step}"]``);
(e) texts.en.yaml only translates keys of texts.nl.yaml, with the same placeholders (the loader refuses
    a file that does not: tried on broken temporary files), and a broken catalogue stops ``wijkbot run``
    and ``wijkbot chat`` at the start;
(f) no Dutch sentence is left in Python: a string literal of 3 words or more with 2 or more different
    Dutch function words, outside docstrings and log calls, is a finding unless ALLOWED says why it is
    not a user-facing sentence. CONVERTED_ELSEWHERE lists the files another change converts; empty it
    then.
"""

from __future__ import annotations

import ast
import asyncio
import io
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

from bot.floor import texts
from bot.floor.config import Settings
from bot.floor.texts import Catalogue, CatalogueError, TextError, catalogue, labels, placeholders

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "intents", "jobs", "knowledge", "socialekaart")
API = {"say", "words", "labels"}
DIALOGUE = ROOT / "intents" / "data" / "dialogue.yaml"

# (f): files whose sentences are being converted by another change; remove each once it is done.
CONVERTED_ELSEWHERE: tuple[str, ...] = ()
# (f): Dutch in Python that is no sentence shown to anyone: file -> (the literal's start, why it stays)
ALLOWED = {
    "intents/languages.py": [("dit is een zin om de modellen te laden", "warms up the language detector")],
    "intents/safety_model.py": [("", "training phrases of the safety classifier, never shown")],
}
# Small Dutch words that are no English words ("is", "was", "die", "door", "we" are both, and made
# English error messages look Dutch)
DUTCH_FUNCTION_WORDS = frozenset(
    {
        "de",
        "het",
        "een",
        "van",
        "u",
        "uw",
        "niet",
        "en",
        "voor",
        "met",
        "op",
        "om",
        "te",
        "wat",
        "geen",
        "ik",
        "je",
        "mij",
        "mijn",
        "wij",
        "dit",
        "dat",
        "deze",
        "er",
        "bij",
        "naar",
        "nu",
        "dan",
        "ook",
        "maar",
        "nog",
        "zijn",
        "heeft",
        "kunt",
        "wordt",
        "hier",
        "daar",
        "wie",
        "waar",
        "hoe",
        "niets",
        "alleen",
    }
)
LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "critical"})


def product_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@cache
def trees() -> dict[str, ast.Module]:
    return {relative(p): ast.parse(p.read_text(encoding="utf-8"), filename=str(p)) for p in product_files()}


# --- the calls of the catalogue ----------------------------------------------------------------------


@dataclass(frozen=True)
class Use:
    where: str  # file:line
    api: str  # say | words | labels
    key: str  # the key, or the literal start of an f-string key
    dynamic: bool = False
    values: frozenset[str] | None = None  # the keywords of a say call; None: passed with **


def _api_names(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """Local names bound to say/words/labels of bot.floor.texts, and names bound to the module itself."""
    functions, modules = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "bot.floor.texts":
            functions.update({a.asname or a.name: a.name for a in node.names if a.name in API})
        elif isinstance(node, ast.ImportFrom) and node.module == "bot.floor":
            modules.update(a.asname or a.name for a in node.names if a.name == "texts")
        elif isinstance(node, ast.Import):
            modules.update(a.asname for a in node.names if a.name == "bot.floor.texts" and a.asname)
    return functions, modules


def _called(node: ast.Call, functions: dict[str, str], modules: set[str]) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return functions.get(func.id)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules:
        return func.attr if func.attr in API else None
    return None


def _key(arg: ast.expr | None) -> tuple[str, bool] | None:
    """(key, False) for a literal, (its literal start, True) for an f-string, None for anything else."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value, False
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return arg.values[0].value, True
    return None


def _uses_in(call: ast.Call, api: str, where: str) -> list[Use | str]:
    if api == "labels":
        return [
            Use(where, api, *found) if (found := _key(k.value)) else f"{where}: labels() takes literal keys"
            for k in call.keywords
        ]
    found = _key(call.args[0] if call.args else None)
    if found is None:
        return [f"{where}: {api}() needs a literal key (or an f-string starting with one)"]
    values = None if any(k.arg is None for k in call.keywords) else frozenset(k.arg for k in call.keywords)
    return [Use(where, api, found[0], found[1], values if api == "say" else None)]


@cache
def uses() -> tuple[list[Use], list[str]]:
    """Every call of say/words/labels in product code, and the calls that cannot be checked."""
    found: list[Use] = []
    unreadable: list[str] = []
    for name, tree in trees().items():
        functions, modules = _api_names(tree)
        for node in ast.walk(tree):
            api = _called(node, functions, modules) if isinstance(node, ast.Call) else None
            if api:
                for use in _uses_in(node, api, f"{name}:{node.lineno}"):
                    (found if isinstance(use, Use) else unreadable).append(use)
    return found, unreadable


def keys_of(use: Use) -> list[str]:
    every = catalogue().keys()
    return sorted(k for k in every if k.startswith(use.key)) if use.dynamic else [use.key] if use.key in every else []


def test_the_code_calls_the_catalogue():
    found, unreadable = uses()
    assert not unreadable, unreadable
    assert {u.api for u in found} == API  # the scan sees the calls (say, words and labels are all in use)


def test_a_every_key_the_code_names_exists_and_is_of_its_kind():
    cat = catalogue()
    problems = []
    for use in uses()[0]:
        keys = keys_of(use)
        if not keys:
            problems.append(f"{use.where}: no text {use.key!r}{'...' if use.dynamic else ''} in texts.nl.yaml")
        wanted = list if use.api == "words" else str
        problems += [
            f"{use.where}: {key!r} is not a {wanted.__name__}" for key in keys if not isinstance(cat.raw(key), wanted)
        ]
    assert not problems, "\n".join(problems)


def test_b_a_say_call_passes_exactly_the_placeholders():
    cat = catalogue()
    problems = []
    for use in uses()[0]:
        if use.api == "words":
            continue
        passed = frozenset() if use.api == "labels" else use.values
        if passed is None:
            problems.append(f"{use.where}: say(..., **values) cannot be checked: name the values")
            continue
        for key in keys_of(use):
            for lang in ("nl", "en"):
                text = cat.texts[lang].get(key)
                if isinstance(text, str) and placeholders(text) != passed:
                    problems.append(
                        f"{use.where}: {key} ({lang}) takes {sorted(placeholders(text))}, "
                        f"the code passes {sorted(passed)}"
                    )
    assert not problems, "\n".join(problems)


def test_c_every_key_of_the_catalogue_is_used():
    used = {key for use in uses()[0] for key in keys_of(use)}
    unused = sorted(catalogue().keys() - used)
    assert not unused, f"texts.nl.yaml keys no code uses: {unused}"


# --- (d) the dialogue ------------------------------------------------------------------------------


def _looked_up(node: ast.AST) -> ast.expr | None:
    """What `node` looks up: the key of ``t["key"]`` or of ``t.get("key", ...)``, or the question of a
    flow's step, ``Step("agenda_ask_title", ...)`` (bot/flows: the engine reads it from the texts)."""
    if isinstance(node, ast.Subscript):
        return node.slice
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Step" and node.args:
        return node.args[0]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
        return node.args[0]
    return None


@cache
def literals() -> tuple[set[str], set[tuple[str, str]]]:
    """Every string looked up in product code (``t["welcome"]``, ``t.get("rsvp_unknown")``), and the
    (literal start, literal end) of every f-string looked up (``t[f"agenda_ask_{step}"]``)."""
    plain, formatted = set(), set()
    for tree in trees().values():
        for node in ast.walk(tree):
            key = _looked_up(node)
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                plain.add(key.value)
            elif isinstance(key, ast.JoinedStr) and key.values and isinstance(key.values[0], ast.Constant):
                last = key.values[-1]
                formatted.add((key.values[0].value, last.value if isinstance(last, ast.Constant) else ""))
    return plain, formatted


def named_in_code(key: str) -> bool:
    plain, formatted = literals()
    return key in plain or any(
        key.startswith(start) and key.endswith(end) and len(key) > len(start) + len(end) for start, end in formatted
    )


@pytest.mark.parametrize("section", ["texts", "buttons"])
def test_d_every_text_and_button_of_the_dialogue_is_used(section):
    dialogue = yaml.safe_load(DIALOGUE.read_text(encoding="utf-8"))
    unused = sorted(key for key in dialogue[section] if not named_in_code(key))
    assert not unused, f"dialogue.yaml {section} no code names: {unused}"


# --- (e) the files themselves, and the start-up check --------------------------------------------


def write(folder: Path, nl: str, en: str | None = None) -> Path:
    (folder / "texts.nl.yaml").write_text(nl, encoding="utf-8")
    if en is not None:
        (folder / "texts.en.yaml").write_text(en, encoding="utf-8")
    return folder


def test_e_the_shipped_english_translates_dutch_keys_with_the_same_placeholders():
    shipped = Catalogue.load(texts.DATA)
    assert shipped.problems() == []
    dutch, english = shipped.texts["nl"], shipped.texts["en"]
    assert english.keys() <= dutch.keys()
    assert all(placeholders(text) == placeholders(dutch[key]) for key, text in english.items() if isinstance(text, str))


@pytest.mark.parametrize(
    ("nl", "en", "problem"),
    [
        ("a:\n  b: 'Hallo {name}'\n", "a:\n  b: 'Hello {who}'\n", "a.b (en): placeholders differ from the Dutch text"),
        ("a:\n  b: 'Hallo'\n", "a:\n  c: 'Hello'\n", "a.c (en) has no Dutch text"),
        ("a:\n  b: [een, twee]\n", "a:\n  b: 'one, two'\n", "a.b (en) is not of the same kind"),
        ("a:\n  b: 'Hallo {name'\n", None, "a.b (nl): "),
        ("a:\n  b: 'Hallo {0}'\n", None, "a.b (nl): a placeholder is {name}"),
        ("a:\n  yes: 'Ja'\n", None, "quote yes, no, on and off"),
        ("a:\n  b: 3\n", None, "a.b: a text is a string or a list of strings"),
        ("a: [b\n", None, "texts.nl.yaml cannot be read"),
    ],
)
def test_e_a_broken_catalogue_is_refused_with_the_key(tmp_path, nl, en, problem):
    with pytest.raises(CatalogueError, match=re.escape(problem)):
        Catalogue.load(write(tmp_path, nl, en))


def test_say_and_words_refuse_what_does_not_fit(tmp_path):
    cat = Catalogue.load(
        write(
            tmp_path,
            "a:\n  hi: 'Hallo {name}.'\n  plain: 'Geen {{haakjes}}'\n  list: [x, y]\n",
            "a:\n  hi: 'Hello {name}.'\n",
        )
    )
    assert cat.say("a.hi", "en", name="Anna") == "Hello Anna."
    assert cat.say("a.hi", "pl", name="Anna") == "Hallo Anna."  # no translation: Dutch
    assert cat.say("a.plain") == "Geen {haakjes}"
    assert cat.words("a.list") == ["x", "y"]
    for wrong in (
        lambda: cat.say("a.hi"),
        lambda: cat.say("a.hi", name="A", extra=1),
        lambda: cat.say("a.nope"),
        lambda: cat.say("a.list"),
        lambda: cat.words("a.hi"),
    ):
        with pytest.raises(TextError):
            wrong()


def test_labels_read_the_catalogue_when_looked_up():
    names = labels(yes="rsvp.yes", no="rsvp.no")
    assert list(names) == ["yes", "no"] and len(names) == 2
    assert "yes" in names and "maybe" not in names
    assert dict(names) == {"yes": "Ik kom", "no": "Ik kom niet"}


@pytest.fixture
def broken_catalogue(tmp_path, monkeypatch):
    """The shipped catalogue's place pointed at a broken copy of its files, for one test."""
    write(tmp_path, "a:\n  b: 'Hallo {name}'\n", "a:\n  b: 'Hello {who}'\n")
    monkeypatch.setattr(texts, "DATA", tmp_path)
    catalogue.cache_clear()
    yield tmp_path
    catalogue.cache_clear()


def test_e_a_broken_catalogue_stops_wijkbot_run_before_anything_starts(broken_catalogue, tmp_path):
    from bot.runner import run

    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    with pytest.raises(CatalogueError, match="placeholders differ"):
        asyncio.run(run(settings))
    assert not (tmp_path / "data").exists()  # not even the database was opened


def test_e_a_broken_catalogue_stops_wijkbot_chat_before_the_first_message(broken_catalogue):
    from bot.console import run_console

    out = io.StringIO()
    with pytest.raises(CatalogueError, match="placeholders differ"):
        run_console(None, io.StringIO("hallo\n"), out, user="anna")  # the bot is never asked anything
    assert out.getvalue() == ""


# --- (f) no Dutch sentence left in Python ----------------------------------------------------------


def _said_to_a_machine(node: ast.AST) -> bool:
    """A call whose text arguments no person reads in a chat: a log line or a regular expression."""
    if not (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
    ):
        return False
    owner, method = node.func.value.id, node.func.attr
    return (owner in ("log", "logger", "logging") and method in LOG_METHODS) or owner == "re"


def _skipped(tree: ast.Module) -> set[int]:
    """ids of the literals that are docstrings, or arguments of a log call or of a regular expression."""
    skipped = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            skipped.add(id(body[0].value))
        if _said_to_a_machine(node):
            skipped.update(id(n) for arg in node.args for n in ast.walk(arg))
    return skipped


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def looks_dutch(text: str) -> bool:
    found = re.findall(r"[a-zà-ÿ]+", re.sub(r"\{[^{}]*\}", " ", text.lower()))
    return len(found) >= 3 and len(DUTCH_FUNCTION_WORDS.intersection(found)) >= 2


def dutch_sentences(name: str, tree: ast.Module) -> list[str]:
    skipped = _skipped(tree)
    inner = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    found = []
    for node in ast.walk(tree):
        text = _text(node) if id(node) not in skipped | inner else None
        if text and looks_dutch(text) and not any(text.startswith(start) for start, _ in ALLOWED.get(name, ())):
            found.append(f"{name}:{node.lineno}: {text[:80]!r}")
    return found


def test_f_the_heuristic_knows_a_dutch_sentence():
    assert looks_dutch("Herinnering: {title}, {when}. Komt u op tijd?")
    assert looks_dutch("De sociale kaart heeft diensten die niet zijn gecontroleerd")
    assert looks_dutch("Ik kom niet")
    assert looks_dutch(" Let op: deze herinnering komt later dan gepland.")
    assert not looks_dutch("audience must be one of: {names}")
    assert not looks_dutch("{key} (en) is not of the same kind as the Dutch text")
    assert not looks_dutch("Misschien")  # fewer than 3 words: labels are not caught here


def test_f_no_dutch_sentence_is_left_in_python():
    found = [
        line
        for name, tree in trees().items()
        if not name.startswith(CONVERTED_ELSEWHERE)
        for line in dutch_sentences(name, tree)
    ]
    assert not found, "Dutch sentences in Python (move them to bot/floor/data/texts.nl.yaml):\n" + "\n".join(found)


def test_f_the_allowances_are_still_needed():
    """An allowance for a literal that is gone is removed, so ALLOWED stays small."""
    stale = []
    for name, allowed in ALLOWED.items():
        tree = trees()[name]
        literals_here = [t for node in ast.walk(tree) if (t := _text(node)) and looks_dutch(t)]
        stale += [f"{name}: {start!r}" for start, _ in allowed if not any(t.startswith(start) for t in literals_here)]
    assert not stale, stale


class _NoDuplicates(yaml.SafeLoader):
    """A loader that refuses a mapping naming one key twice (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        twice = sorted({str(k) for k in keys if keys.count(k) > 1})
        if twice:
            raise yaml.constructor.ConstructorError(None, None, f"key given twice: {', '.join(twice)}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "bot/floor/data").glob("*.yaml"), *(ROOT / "intents/data").glob("*.yaml")]),
    ids=lambda p: p.name,
)
def test_no_key_of_a_shipped_text_file_is_given_twice(path):
    """A key written twice would silently replace the first text (one did, in a merge)."""
    yaml.load(path.read_text(encoding="utf-8"), Loader=_NoDuplicates)
