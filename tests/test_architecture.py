"""The tree, docs/architecture.md and the import-linter contract tell the same story, and the stable
embedding API works as the document shows."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _layers() -> list[str]:
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return contract["contracts"][0]["layers"]


def _modules(package: Path) -> set[str]:
    """The modules and subpackages directly in a package (migrations is run by Alembic, not imported)."""
    found = {p.stem for p in package.glob("*.py") if p.name != "__init__.py"}
    found |= {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    return found


def test_every_module_of_bot_is_in_a_layer_of_the_contract():
    app = {name.strip().removeprefix("bot.") for name in _layers()[0].split(":")}
    assert _layers()[-1] == "bot.floor"
    assert _modules(ROOT / "bot") - {"floor"} == app


def test_the_document_names_every_layer_and_module():
    for layer in ("bot/floor/", "jobs/", "knowledge/", "socialekaart/", "intents/"):
        assert layer in DOC
    mentioned = set(re.findall(r"`([a-z_]+)/?`", DOC))
    assert _modules(ROOT / "bot") - {"floor", "messages", "config"} <= mentioned  # the two are the stable API
    assert _modules(ROOT / "bot" / "floor") <= mentioned
    assert "lint-imports" in DOC and "[tool.importlinter]" in DOC


def test_the_stable_api_example_of_the_document_runs(tmp_path, monkeypatch):
    example = re.search(r"```python\n(.*?)```", DOC.split("stable API")[1], re.S).group(1)
    monkeypatch.setenv("WIJKBOT_DATA_DIR", str(tmp_path))
    printed: list[str] = []
    exec(compile(example, "docs/architecture.md", "exec"), {"print": lambda *a: printed.append(" ".join(map(str, a)))})
    assert printed and "Ik ben Wijkbot" in printed[0]  # the first reply says it is an automated assistant
