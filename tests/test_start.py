"""Instant chat start (issue 13): the greeting before the warm-up, messages that wait for what they need (the
safety check never waits), classifiers read without spaCy giving spaCy's own numbers, the caches of the start
path giving what they replace, and the migration check that agrees with alembic."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.console import run_console
from bot.core import Wijkbot
from bot.floor.db import MIGRATIONS, Database, head_revisions
from intents import language
from intents.nlu import NLU, examples
from intents.safety import Safety
from intents.terms import CompiledTerms
from intents.textcat import Bow, simple_tokens
from tests.conftest import ROOT

WAIT = 120  # seconds: an upper bound for a step that takes a fraction of it, never a sleep


class Screen(io.TextIOBase):
    """The console's stdout, readable while the console runs in another thread."""

    def __init__(self):
        self.text = ""
        self.changed = threading.Condition()

    def write(self, s: str) -> int:
        with self.changed:
            self.text += s
            self.changed.notify_all()
        return len(s)

    def wait_for(self, words: str) -> str:
        with self.changed:
            assert self.changed.wait_for(lambda: words in self.text, WAIT), f"never shown: {words!r}"
            return self.text


class Keyboard(io.TextIOBase):
    """The console's stdin: lines typed by the test, one at a time."""

    def __init__(self):
        self.lines: list[str] = []
        self.typed = threading.Condition()

    def type(self, line: str) -> None:
        with self.typed:
            self.lines.append(line + "\n")
            self.typed.notify_all()

    def readline(self, size: int | None = -1) -> str:
        with self.typed:
            self.typed.wait_for(lambda: self.lines, WAIT)
            return self.lines.pop(0) if self.lines else ""

    def isatty(self) -> bool:
        return False


def test_the_greeting_comes_before_the_warm_up_and_a_message_waits_for_what_it_needs(bot, nlu):
    """With the NLU held back: the greeting is shown, an emergency typed now is answered at once (the safety
    check needs no warm-up), an ordinary question is answered once the NLU is there."""
    held = threading.Event()

    def slow_nlu() -> NLU:
        held.wait(WAIT)
        return nlu

    chat = Wijkbot(bot.database, clock=bot.clock, settings=bot.settings, nlu=slow_nlu)
    screen, keyboard = Screen(), Keyboard()
    console = threading.Thread(target=run_console, args=(chat, keyboard, screen), kwargs={"user": "piet"}, daemon=True)
    console.start()
    screen.wait_for("Stel uw vraag")
    keyboard.type("mijn vader heeft pijn op de borst en zweet heel erg")
    shown = screen.wait_for("Bel nu 112")
    assert "Tot een volgende keer" not in shown and not held.is_set()
    keyboard.type("ik wil stoppen met roken")
    held.set()
    screen.wait_for("postcode")
    keyboard.type("/stop")
    screen.wait_for("Tot een volgende keer")
    console.join(WAIT)
    assert chat.warm_up.wait(WAIT)


def test_a_part_that_fails_to_load_fails_where_it_is_used(bot, caplog):
    def broken() -> NLU:
        raise RuntimeError("no model")

    chat = Wijkbot(bot.database, clock=bot.clock, settings=bot.settings, nlu=broken)
    chat.warm_up.start()
    assert chat.warm_up.wait(WAIT)
    assert any("warm-up of nlu failed: RuntimeError" in r.getMessage() for r in caplog.records)
    with pytest.raises(RuntimeError, match="no model"):
        chat.nlu.parse("ik heb schulden")


# --- classifiers read with numpy ---------------------------------------------------------------------------------


def _written_texts() -> list[str]:
    from intents.safety import DATA
    from intents.safety_model import paraphrases
    from intents.textcat import labelled
    from socialekaart.needs import WRITTEN, load_types

    texts = [t for kind in ("stream", "intent") for t, _ in examples(kind)]
    texts += [t for t, _ in paraphrases(DATA)]
    texts += [t for t, _ in labelled(WRITTEN, "type", tuple(t.id for t in load_types()))]
    return texts


def _classifiers(nlu):
    from intents.nlu import _as_keys
    from intents.safety_model import _keys, default_model
    from socialekaart.needs import as_keys, default_needs

    return [
        ("stream", nlu.models["stream"], _as_keys),
        ("intent", nlu.models["intent"], _as_keys),
        ("safety", default_model().nlp, lambda t: _keys(t[:2000])),
        ("needs", default_needs().nlp, as_keys),
    ]


def _same_as_spacy(nlu, texts: list[str]) -> None:
    for name, model, keyed in _classifiers(nlu):
        assert isinstance(model, Bow), name
        plain = 0
        for text in texts:
            keys = keyed(text)
            tokens = simple_tokens(keys)
            if tokens is None:
                continue
            plain += 1
            doc = model.nlp(keys)
            assert [t.text for t in doc] == tokens, (name, keys)
            assert model.scores(tokens) == dict(doc.cats), (name, keys)
        assert plain > 0.97 * len(texts), name


def test_classifiers_read_without_spacy_give_spacys_numbers(nlu):
    """Every written example of every model (about 7,300 texts, four models), as keys: spaCy's tokens, and
    the very same probabilities (float equality), for every text whose tokens are plain; the others go to
    spaCy. (Half a minute: in the slow list; the fast loop checks every 20th.)"""
    texts = _written_texts()
    assert len(texts) > 5000
    _same_as_spacy(nlu, texts)


def test_classifiers_read_without_spacy_give_spacys_numbers_on_a_sample(nlu):
    _same_as_spacy(nlu, _written_texts()[::20])


def test_text_that_spacy_would_split_goes_to_spacy(nlu):
    stream = nlu.models["stream"]
    for keys in ("afspraak 18u", "b12 tekort", "4x per dag", "5k lop"):
        assert simple_tokens(keys) is None
        assert stream(keys) == dict(stream.nlp(keys).cats)


def test_the_tokenizers_special_cases_of_plain_words_are_single_tokens():
    """The plain pieces read as one token each: spaCy's Dutch exceptions made of letters or digits alone are
    one token of the same text (or they would have to go to spaCy)."""
    import spacy

    nlp = spacy.blank("nl")
    for text in nlp.Defaults.tokenizer_exceptions:
        if simple_tokens(text) == [text]:
            assert [t.text for t in nlp.tokenizer(text)] == [text], text


# --- the caches of the start path --------------------------------------------------------------------------------


def test_stop_words_read_without_importing_spacy_are_spacys():
    from spacy.lang.en.stop_words import STOP_WORDS as EN
    from spacy.lang.nl.stop_words import STOP_WORDS as NL

    assert language._spacy_stop_words("nl") == NL
    assert language._spacy_stop_words("en") == EN


def test_the_kept_dutch_tables_are_the_tables(tmp_path, monkeypatch):
    monkeypatch.setenv("WIJKBOT_CACHE_DIR", str(tmp_path))
    table = language._lemma_lookup()
    made = language._tables()  # made and kept
    (kept,) = tmp_path.glob("dutch-tables-*.json")
    read = language._tables()  # read from the file
    assert made[0] == read[0] == table
    assert made[1] == read[1] == language._lexicon(table)
    kept.write_text('{"size": 3, "forms": "a"}', encoding="utf-8")  # damaged: made again
    assert language._tables()[0] == table


SAFETY_TEXTS = [
    "mijn vader heeft pijn op de borst en zweet",
    "ik zie het niet meer zitten",
    "mijn man slaat me soms",
    "ik ga dood van het lachen",
    "mijn kind heeft 40 graden koorts en is suf",
    "my husband hits me",
    "ik zoek een wandelgroep",
    "hij ademt niet meer!!",
]


def test_safety_with_its_compiled_terms_kept_decides_as_without(tmp_path, clock):
    plain = Safety()
    first = Safety(cache_dir=tmp_path)
    (kept,) = tmp_path.glob("terms-safety-*.json")
    again = Safety(cache_dir=tmp_path)
    assert CompiledTerms(kept).saved, "the compiled terms are kept"
    for text in SAFETY_TEXTS:
        expected = plain.assess(text, clock.now())
        assert first.assess(text, clock.now()) == expected == again.assess(text, clock.now()), text
    kept.write_text(json.dumps({"hulp": [["not", "slots"]]}), encoding="utf-8")  # damaged: compiled again
    damaged = Safety(cache_dir=tmp_path)
    assert [damaged.assess(t, clock.now()) for t in SAFETY_TEXTS] == [
        plain.assess(t, clock.now()) for t in SAFETY_TEXTS
    ]


# --- migrations: no alembic for a database at the head ---------------------------------------------------------


def _alembic_heads(script_location: Path) -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return set(ScriptDirectory.from_config(cfg).get_heads())


def test_the_head_read_without_alembic_is_alembics_head(tmp_path):
    assert head_revisions() == _alembic_heads(MIGRATIONS)
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (head,) = head_revisions(copy / "versions")
    added = (
        '"""added"""\n\nrevision: str = "0099"\ndown_revision = {down!r}  # a comment\n\n\ndef upgrade():\n    pass\n'
    )
    (copy / "versions" / "0099_added.py").write_text(added.format(down=head), encoding="utf-8")
    assert head_revisions(copy / "versions") == _alembic_heads(copy) == {"0099"}
    (copy / "versions" / "0098_branch.py").write_text(
        added.replace("0099", "0098").format(down="0010"), encoding="utf-8"
    )
    assert head_revisions(copy / "versions") == _alembic_heads(copy) == {"0098", "0099"}
    (copy / "versions" / "0100_merge.py").write_text(
        added.replace("0099", "0100").format(down=("0098", "0099")), encoding="utf-8"
    )
    assert head_revisions(copy / "versions") == _alembic_heads(copy) == {"0100"}


def test_a_database_at_the_head_opens_without_alembic_and_an_older_one_is_upgraded(tmp_path):
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'wijkbot.sqlite3'}"
    Database(url).dispose()  # made and migrated
    probe = "import sys; from bot.floor.db import Database; Database(sys.argv[1]); print('alembic' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, env=env, check=True)
    assert run.stdout.strip() == "False"
    database = Database(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0010")
    database.dispose()
    run = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, env=env, check=True)
    assert run.stdout.strip() == "True"  # upgraded by alembic
    with Database(url).engine.connect() as connection:
        assert {r[0] for r in connection.exec_driver_sql("SELECT version_num FROM alembic_version")} == head_revisions()


def test_the_greeting_needs_neither_spacy_nor_the_lemma_table(bot):
    """What the first prompt costs: a new process answers /start without importing spaCy or alembic and
    without reading the Dutch lemma table (the caches are made by this test session's bot first)."""
    bot.safety.assess("ik heb pijn")  # the safety model's weights are saved by now
    probe = """
import sys
from bot.app import open_database
from bot.core import Wijkbot
from bot.floor.config import Settings
from bot.floor.messages import Incoming
from intents.language import dutch
settings = Settings(data_dir=sys.argv[1])
bot = Wijkbot(open_database(settings), settings=settings)
out = bot.handle(Incoming(channel="console", chat_id="a", user_id="a", text="/start"))
print(out[0].text.count("Wijkbot") > 0, "spacy" in sys.modules, "alembic" in sys.modules, dutch()._table is None)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    data_dir = str(bot.settings.data_dir)
    run = subprocess.run([sys.executable, "-c", probe, data_dir], capture_output=True, text=True, env=env, check=True)
    assert run.stdout.split() == ["True", "False", "False", "True"]
