"""Curated knowledge: Markdown articles with front matter, and retrieval over them.

Articles live in ``knowledge/articles/*.md`` (editable without Python). Retrieval reuses the social
map's search engine: an article is indexed like a service (title as name, synonyms as alternate name,
short answer and body as description), so typos, inflections and the concept lexicon work here too.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from bot.floor import yamlfile
from intents.language import dutch, words

if TYPE_CHECKING:
    from socialekaart.search import SearchIndex

ARTICLES = Path(__file__).with_name("articles")
MIN_SCORE = 6.0  # without naming an article's title or synonym, a question must match this well


class Article(BaseModel):
    slug: str
    title: str
    synonyms: list[str] = []
    stream: Literal["care", "health", "wellbeing"]
    audience: Literal["resident", "professional", "all"]
    last_reviewed: date
    answer: str = Field(max_length=600)
    link: str
    body: str


def load_articles(folder: Path = ARTICLES) -> list[Article]:
    articles = []
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        _, front, body = text.split("---", 2)
        articles.append(Article(slug=path.stem, body=body.strip(), **yamlfile.safe_load(front)))
    return articles


class Knowledge:
    def __init__(self, articles: list[Article] | None = None):
        from socialekaart.search import SearchIndex, ServiceDoc

        self.articles = {a.slug: a for a in (articles if articles is not None else load_articles())}
        docs = [
            ServiceDoc(
                id=a.slug,
                name=a.title,
                organization="",
                postcodes=[],
                coords=None,
                languages=frozenset(),
                free=False,
                openings=[],
                fields={
                    "name": a.title,
                    "alternate_name": " ".join(a.synonyms),
                    "taxonomy": "",
                    "organization": "",
                    "contact": "",
                    "description": a.answer,
                    "eligibility": "",
                    "languages": "",
                    "organization_description": a.body,
                    "location": "",
                    "schedule": "",
                    "fees": "",
                    "area": "",
                },
            )
            for a in self.articles.values()
        ]
        self.index = _index(docs, self.articles.values()) if articles is None else SearchIndex.build(docs)
        nl = dutch()
        self._names = {
            a.slug: {nl.key(w) for term in [a.title, *a.synonyms] for w in words(term) if not nl.is_stop(w)}
            for a in self.articles.values()
        }

    def answer(self, question: str) -> Article | None:
        """The article a question is about: the best one whose title or synonyms it names, else a strong match."""
        nl = dutch()
        keys = {nl.key(w) for w in words(question) if not nl.is_stop(w)}
        hits = self.index.search(question, limit=5)
        for hit in hits:
            if keys & self._names[hit.id]:
                return self.articles[hit.id]
        if hits and hits[0].score >= MIN_SCORE:
            return self.articles[hits[0].id]
        return None


def _index(docs: list, articles) -> SearchIndex:
    """The shipped articles' index, kept in the cache directory under a fingerprint of the articles, the
    lexicon and the way words are read: made once, loaded at every start after (a third of a second
    instead of most of two)."""
    from bot.floor.config import Settings
    from socialekaart.corpus import CorruptIndex, index_fingerprint
    from socialekaart.lexicon import CONCEPTS
    from socialekaart.search import SearchIndex

    digest = hashlib.sha256(index_fingerprint().encode())
    digest.update(CONCEPTS.read_bytes())
    for a in articles:
        digest.update(a.model_dump_json().encode())
    key = {"articles": digest.hexdigest()[:16]}
    path = Settings().cache_dir / "knowledge-index.npz"
    try:
        return SearchIndex.load(path, key)[1]
    except (CorruptIndex, OSError):
        index = SearchIndex.build(docs)
        with contextlib.suppress(OSError):  # a read-only cache: built again next time
            index.save(path, key)
        return index


@cache
def knowledge() -> Knowledge:
    from intents.language import shipped_keys

    with shipped_keys("knowledge"):
        return Knowledge()
