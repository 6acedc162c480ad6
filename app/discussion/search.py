"""Full-text search over thread titles and post bodies, one interface over two engines.

PostgreSQL: the generated `posts.search_vector` (title weight A, body weight B) with a GIN
index, queried with `websearch_to_tsquery` (quotes, `or`, `-word` as users expect) and ranked
with `ts_rank`, which depends on the document only, so a page cursor `(score, key)` stays
exact while others post.
SQLite: the FTS5 table `post_search`, queried with a MATCH expression built here from the
same user syntax (every word quoted, so no input is ever FTS5 syntax), ranked by `bm25`
(titles weighted 10:1). bm25 uses corpus statistics, so on SQLite a result may shift between
pages when posts are added in between; PostgreSQL has no such drift.

Both backends only *add* the match condition and a score to a query the repository has
already limited to what the caller may see, so visibility is decided before ranking and
LIMIT, never by filtering a page afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Double, Select, bindparam, cast, column, func, literal_column, table
from sqlalchemy.sql.elements import ColumnElement

from app.models import Post

AnySelect = Select[*tuple[Any, ...]]

_WORD = re.compile(r"\w+", re.UNICODE)
# A quoted phrase, or a run of non-space characters.
_PIECE = re.compile(r'"([^"]*)"?|(\S+)')
MAX_TERMS = 32


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # more than one word: a phrase
    negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """Groups of alternatives (OR) that must all match, and terms that must not."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...]

    @property
    def empty(self) -> bool:
        return not self.groups


def parse(text: str) -> ParsedQuery:
    """Web-search syntax: words, "quoted phrases", `-excluded`, and `or` between terms."""
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    count = 0
    for match in _PIECE.finditer(text):
        phrase, bare = match.group(1), match.group(2)
        if bare is not None and bare.lower() == "or":
            join_next = bool(groups)
            continue
        negated = bare is not None and bare.startswith("-")
        words = tuple(w.lower() for w in _WORD.findall(phrase if phrase is not None else bare))
        if not words or count >= MAX_TERMS:
            continue
        count += 1
        terms = (
            [Term(words, negated)] if phrase is not None else [Term((w,), negated) for w in words]
        )
        if negated:
            excluded.extend(terms)
            join_next = False
            continue
        for index, term in enumerate(terms):
            if index == 0 and join_next:
                groups[-1].append(term)
            else:
                groups.append([term])
        join_next = False
    return ParsedQuery(tuple(tuple(g) for g in groups), tuple(excluded))


@dataclass(frozen=True)
class PreparedSearch:
    """One search, ready for `repository.search_posts`, which scopes what the caller may see.

    `restrict` adds the index and the match condition to the candidate query, which also
    selects `carry` for each candidate; `score` turns that into the relevance once the few
    candidates are chosen. SQLite's bm25 can only be computed in the statement that does the
    MATCH, so it is carried as is; PostgreSQL carries the tsvector and runs ts_rank on the
    candidates only, so a frequent word never pays for ranking every match.
    """

    restrict: Callable[[AnySelect], AnySelect]
    carry: ColumnElement[Any]
    score: Callable[[ColumnElement[Any]], ColumnElement[float]]
    # Run first in the same transaction. PostgreSQL: a cached generic plan cannot know how
    # common the searched words are (index scan newest-first for frequent words, GIN bitmap
    # for rare ones), so search statements are planned for their actual text.
    setup: str | None


class SearchBackend(Protocol):
    def prepare(self, parsed: ParsedQuery, raw: str) -> PreparedSearch: ...


class PostgresSearch:
    def prepare(self, parsed: ParsedQuery, raw: str) -> PreparedSearch:
        del parsed  # websearch_to_tsquery parses the same syntax itself, safely
        vector: ColumnElement[Any] = literal_column("posts.search_vector")
        query = func.websearch_to_tsquery(
            literal_column("'english'::regconfig"), bindparam("search_text", raw)
        )
        return PreparedSearch(
            restrict=lambda select_: select_.where(vector.op("@@")(query)),
            carry=vector,
            score=lambda carried: cast(func.ts_rank(carried, query), Double),
            setup="SET LOCAL plan_cache_mode = force_custom_plan",
        )


def _fts5_term(term: Term) -> str:
    # Each word is a quoted FTS5 string, so nothing the user typed is read as FTS5 syntax.
    return '"' + " ".join(word.replace('"', '""') for word in term.words) + '"'


def fts5_expression(parsed: ParsedQuery) -> str:
    groups = [
        "(" + " OR ".join(_fts5_term(t) for t in group) + ")"
        if len(group) > 1
        else _fts5_term(group[0])
        for group in parsed.groups
    ]
    expression = " AND ".join(groups)
    if parsed.excluded:
        expression = f"({expression}) NOT (" + " OR ".join(map(_fts5_term, parsed.excluded)) + ")"
    return expression


class SqliteSearch:
    def prepare(self, parsed: ParsedQuery, raw: str) -> PreparedSearch:
        del raw
        index = table("post_search", column("rowid"))
        fts: ColumnElement[Any] = literal_column("post_search")
        match = fts.op("MATCH")(bindparam("search_match", fts5_expression(parsed)))
        return PreparedSearch(
            restrict=lambda select_: select_.join(index, index.c.rowid == Post.key).where(match),
            # bm25 is lower-is-better; negated so both engines rank "higher is better".
            carry=cast(-func.bm25(fts, 10.0, 1.0), Double),
            score=lambda carried: carried,
            setup=None,
        )


_BACKENDS: dict[str, SearchBackend] = {"postgresql": PostgresSearch(), "sqlite": SqliteSearch()}


def backend_for(dialect: str) -> SearchBackend:
    try:
        return _BACKENDS[dialect]
    except KeyError:  # pragma: no cover - the migration refuses other databases first
        raise RuntimeError(f"no full-text search for {dialect}") from None
