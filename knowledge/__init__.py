"""Curated knowledge: Markdown articles with front matter, and retrieval over them.

Articles live in ``knowledge/articles/*.md`` (editable without Python). Retrieval reuses the social
map's search engine: an article is indexed like a service (title as name, synonyms as alternate name,
short answer and body as description), so typos, inflections and the concept lexicon work here too.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from intents.language import dutch, words

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
        articles.append(Article(slug=path.stem, body=body.strip(), **yaml.safe_load(front)))
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
        self.index = SearchIndex.build(docs)
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


@cache
def knowledge() -> Knowledge:
    return Knowledge()
