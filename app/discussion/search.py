"""Full-text search over thread titles and post bodies, one interface over two engines.

Both engines only ever *find candidates*: at most N matching posts the caller may see, newest
first. `repository.search_posts` adds the caller's visibility to every query that finds them
(so visibility is decided before ranking and LIMIT, never by filtering a page afterwards), then
ranks the candidates and joins one page.

PostgreSQL: the generated `posts.search_vector` (title weight A, body weight B), queried with
`websearch_to_tsquery` (quotes, `or`, `-word` as users expect) and ranked with `ts_rank`, which
depends on the document only, so a page cursor `(score, key)` stays exact while others post.
A plain GIN index cannot produce "the newest matches" without reading every match of every
word, so a query of two mid-frequency words would cost more as the corpus grows. The
`ix_posts_search_buckets` index (see its migration) indexes each post's lexemes again as
`lexeme~B`, B being the post's bucket of 8,192 consecutive keys. Search walks the newest
`SEARCH_WINDOW_BUCKETS` buckets newest first, one index probe each for the query rewritten to
that bucket's lexemes, and stops as soon as it has enough; anything older comes from the plain
index. A frequent word stops in the first bucket, a rare one costs up to 128 cheap probes.
SQLite: the FTS5 table `post_search`, queried with a MATCH expression built here from the
same user syntax (every word quoted, so no input is ever FTS5 syntax), ranked by `bm25`
(titles weighted 10:1). bm25 uses corpus statistics, so on SQLite a result may shift between
pages when posts are added in between; PostgreSQL has no such drift.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Double,
    Select,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    table,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

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


# Buckets walked one by one before the plain index takes the rest: 128 x 8,192, the newest
# 1,048,576 posts. A probe that finds nothing costs ~14 us, so the longest walk (a word in no
# bucket) costs ~1.8 ms, about what one plain-index probe for two mid-frequency words costs at
# a million posts; a query whose 250 newest matches lie within the window never pays that
# probe. (At 64 buckets, two words of 2-3% each still fit, but sparser pairs would not.)
SEARCH_WINDOW_BUCKETS = 128

Visible = Callable[[AnySelect], AnySelect]


class SearchPlan(Protocol):
    """One search, ready to run."""

    def candidates(self, visible: Visible, limit: int) -> Subquery:
        """At most `limit` matching posts, newest first, as columns `key` and `carried`
        (whatever `score` needs). `visible` adds the caller's conditions on `posts` to every
        query that finds them."""
        ...

    def score(self, carried: ColumnElement[Any]) -> ColumnElement[float]:
        """Relevance from a candidate's `carried` column: higher is better."""
        ...


class SearchBackend(Protocol):
    async def prepare(
        self, session: AsyncSession, parsed: ParsedQuery, raw: str, *, before_key: int | None
    ) -> SearchPlan | None:
        """None when nothing can match (only stop words, or no posts at all)."""
        ...


# --- PostgreSQL: tsquery rewritten per bucket ------------------------------------------------


@dataclass(frozen=True)
class Lexeme:
    quoted: str  # as tsquery prints it, between the quotes (quotes and backslashes doubled)


@dataclass(frozen=True)
class Not:
    operand: TsNode


@dataclass(frozen=True)
class Operation:
    operator: str  # "&", "|", or a phrase operator "<->" / "<N>"
    left: TsNode
    right: TsNode


TsNode = Lexeme | Not | Operation

_TSQUERY_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(<(?:-|\d+)>)|([&|!()]))")


class UnsupportedQuery(ValueError):
    """A tsquery this module cannot rewrite per bucket (weights, prefixes, a negated phrase)."""


def parse_tsquery(printed: str) -> TsNode | None:
    """The tree of a tsquery as PostgreSQL prints it; None for the empty query."""
    printed = printed.rstrip()
    tokens: list[str] = []
    position = 0
    while position < len(printed):
        match = _TSQUERY_TOKEN.match(printed, position)
        if match is None:
            raise UnsupportedQuery(printed[position:])
        tokens.append(match.group(match.lastindex or 0))
        position = match.end()
    if not tokens:
        return None
    node, rest = _parse_or(tokens)
    if rest:
        raise UnsupportedQuery(" ".join(rest))
    return node


Parsed = tuple[TsNode, list[str]]


def _parse_infix(
    tokens: list[str], is_operator: Callable[[str], bool], operand: Callable[[list[str]], Parsed]
) -> Parsed:
    """Left-associative `operand (operator operand)*`."""
    node, tokens = operand(tokens)
    while tokens and is_operator(tokens[0]):
        operator = tokens[0]
        right, tokens = operand(tokens[1:])
        node = Operation(operator, node, right)
    return node, tokens


# Precedence, loosest first: | then & then phrase operators then !.
def _parse_or(tokens: list[str]) -> Parsed:
    return _parse_infix(tokens, lambda piece: piece == "|", _parse_and)


def _parse_and(tokens: list[str]) -> Parsed:
    return _parse_infix(tokens, lambda piece: piece == "&", _parse_phrase)


def _parse_phrase(tokens: list[str]) -> Parsed:
    return _parse_infix(tokens, lambda piece: piece.startswith("<"), _parse_unary)


def _parse_unary(tokens: list[str]) -> Parsed:
    if not tokens:
        raise UnsupportedQuery("unexpected end")
    piece, rest = tokens[0], tokens[1:]
    if piece == "!":
        operand, rest = _parse_unary(rest)
        return Not(operand), rest
    if piece == "(":
        node, rest = _parse_or(rest)
        if not rest or rest[0] != ")":
            raise UnsupportedQuery("unbalanced parentheses")
        return node, rest[1:]
    if piece.startswith("'"):
        return Lexeme(piece[1:-1]), rest
    raise UnsupportedQuery(piece)


@dataclass(frozen=True)
class BucketRewrite:
    """A tsquery rewritten for the bucketed index.

    For a post in bucket B, `lexeme~B` is indexed exactly when `lexeme` is in its vector, so
    the rewritten query matches exactly the posts of bucket B the original matches, except
    that a phrase becomes AND (the bucketed index has no positions): such queries are
    re-checked against the real vector. A negated phrase cannot be widened that way and is
    refused (UnsupportedQuery). When the query contains a negation it could match a post that
    has none of its words, so it is ANDed with the bucket's marker `~B`.
    """

    tree: TsNode
    has_phrase: bool
    has_negation: bool

    @classmethod
    def of(cls, tree: TsNode) -> BucketRewrite:
        phrase, negation = cls._inspect(tree, negated=False)
        return cls(tree, phrase, negation)

    @classmethod
    def _inspect(cls, node: TsNode, *, negated: bool) -> tuple[bool, bool]:
        if isinstance(node, Lexeme):
            return False, False
        if isinstance(node, Not):
            phrase, _ = cls._inspect(node.operand, negated=not negated)
            return phrase, True
        is_phrase = node.operator not in ("&", "|")
        if is_phrase and negated:
            raise UnsupportedQuery("a negated phrase")
        left = cls._inspect(node.left, negated=negated)
        right = cls._inspect(node.right, negated=negated)
        return is_phrase or left[0] or right[0], left[1] or right[1]

    def for_bucket(self, bucket: int) -> str:
        """The query for one bucket."""
        return self._render(str(bucket), lambda lexeme: lexeme)

    def template(self) -> str:
        """The query for any bucket, as a `format()` string taking the bucket number: one
        parameter however many buckets the walk probes."""
        return self._render("%1$s", lambda lexeme: lexeme.replace("%", "%%"))

    def _render(self, bucket: str, literal: Callable[[str], str]) -> str:
        def render(node: TsNode) -> str:
            if isinstance(node, Lexeme):
                return f"'{literal(node.quoted)}~{bucket}'"
            if isinstance(node, Not):
                return f"!({render(node.operand)})"
            operator = node.operator if node.operator in ("&", "|") else "&"
            return f"({render(node.left)} {operator} {render(node.right)})"

        rewritten = render(self.tree)
        return f"'~{bucket}' & ({rewritten})" if self.has_negation else rewritten


_VECTOR: ColumnElement[Any] = literal_column("posts.search_vector")
_PREPARE = text(
    # For the rest of this transaction (the search statement): generic plans, since the
    # statement is shaped so that its plan does not depend on the words (the bucketed index for
    # the walk, the plain one for the rest) and planning a tsvector condition for its actual
    # words costs ~0.5 ms; no JIT, whose compilation (~10 ms) a walk's cost estimate can
    # trigger; no parallel workers, since the walk relies on rows arriving in bucket order.
    "SELECT set_config('plan_cache_mode', 'force_generic_plan', true), "
    "set_config('jit', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true), "
    "websearch_to_tsquery('english'::regconfig, :raw)::text AS query, "
    "search_bucket(coalesce(CAST(:before AS bigint) - 1, (SELECT max(key) FROM posts))) AS top"
)


@dataclass(frozen=True)
class PostgresSearchPlan:
    """Newest matches first: a walk down the buckets from `walk_from` to `walk_to`, each
    probed with `template` formatted with its number, then, for buckets below `older_than`,
    the plain index.

    The union is cut with LIMIT and no ORDER BY, so PostgreSQL stops probing as soon as it has
    enough: rows come bucket by bucket in walk order (a nested loop over `generate_series`,
    then the remainder; parallel plans are off), newest first within each bucket.
    """

    raw: str
    walk_from: int
    walk_to: int  # inclusive; walk_to > walk_from: no walk
    template: str
    older_than: int | None
    recheck: bool

    def _tsquery(self) -> ColumnElement[Any]:
        return func.websearch_to_tsquery(
            literal_column("'english'::regconfig"), bindparam("search_text", self.raw)
        )

    def _tsquery_once(self) -> ColumnElement[Any]:
        # A scalar subquery is evaluated once per statement; a generic plan would otherwise
        # parse the query again for every row it ranks.
        return select(self._tsquery()).scalar_subquery()

    def candidates(self, visible: Visible, limit: int) -> Subquery:
        branches: list[AnySelect] = []
        if self.walk_from >= self.walk_to:
            buckets = (
                func.generate_series(
                    bindparam("search_walk_from", self.walk_from, type_=BigInteger),
                    bindparam("search_walk_to", self.walk_to, type_=BigInteger),
                    -1,
                )
                .table_valued("bucket")
                .render_derived("search_walk")
            )
            bucket_query = func.format(
                bindparam("search_template", self.template, type_=Text), buckets.c.bucket
            )
            conditions: list[ColumnElement[Any]] = [
                func.search_bucketed(_VECTOR, Post.key).op("@@")(cast(bucket_query, TSQUERY))
            ]
            if self.recheck:
                # The function form, not @@, so the planner cannot pick the plain index here.
                conditions.append(func.ts_match_vq(_VECTOR, self._tsquery_once()))
            hits = (
                visible(select(Post.key.label("key"), _VECTOR.label("carried")).where(*conditions))
                .order_by(Post.key.desc())
                .limit(limit)
                .lateral("bucket_hits")
            )
            branches.append(
                select(hits.c.key, hits.c.carried).select_from(buckets).join(hits, true())
            )
        if self.older_than is not None:
            branches.append(
                visible(
                    select(Post.key.label("key"), _VECTOR.label("carried")).where(
                        # Not `key < ...`: that would invite a scan of the primary key.
                        func.search_bucket(Post.key) < self.older_than,
                        _VECTOR.op("@@")(self._tsquery()),
                    )
                )
                .order_by(Post.key.desc())
                .limit(limit)
            )
        found = (branches[0] if len(branches) == 1 else union_all(*branches)).subquery("found")
        return select(found.c.key, found.c.carried).limit(limit).subquery("candidates")

    def score(self, carried: ColumnElement[Any]) -> ColumnElement[float]:
        return cast(func.ts_rank(carried, self._tsquery_once()), Double)


def plan_postgres_search(
    raw: str, tsquery: str, top: int, *, window: int | None = None
) -> PostgresSearchPlan | None:
    """The plan for `raw`, whose tsquery PostgreSQL prints as `tsquery`, when the newest
    candidate lies in bucket `top`. None when the query has no words to search for, or when
    no post can be that old (a cursor at the very first key)."""
    window = SEARCH_WINDOW_BUCKETS if window is None else window
    if top < 0:
        return None
    try:
        tree = parse_tsquery(tsquery)
        if tree is None:
            return None
        rewrite: BucketRewrite | None = BucketRewrite.of(tree)
    except UnsupportedQuery:
        rewrite = None  # PostgreSQL printed something new to us: the plain index does it all
    if rewrite is None:
        return PostgresSearchPlan(raw, 0, 1, "", top + 1, recheck=False)
    lowest = max(top - window + 1, 0)
    return PostgresSearchPlan(
        raw,
        top,
        lowest,
        rewrite.template(),
        lowest if lowest > 0 else None,
        recheck=rewrite.has_phrase,
    )


class PostgresSearch:
    async def prepare(
        self, session: AsyncSession, parsed: ParsedQuery, raw: str, *, before_key: int | None
    ) -> SearchPlan | None:
        del parsed  # websearch_to_tsquery parses the same syntax itself, safely
        row = (await session.execute(_PREPARE, {"raw": raw, "before": before_key})).one()
        if row.top is None or not row.query:
            return None
        return plan_postgres_search(raw, row.query, row.top)


# --- SQLite: FTS5 ----------------------------------------------------------------------------


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


@dataclass(frozen=True)
class SqliteSearchPlan:
    match: str

    def candidates(self, visible: Visible, limit: int) -> Subquery:
        index = table("post_search", column("rowid"))
        fts: ColumnElement[Any] = literal_column("post_search")
        query = (
            select(
                Post.key.label("key"),
                # bm25 is lower-is-better; negated so both engines rank "higher is better".
                # It can only be computed in the statement that does the MATCH, so it is
                # carried as is.
                cast(-func.bm25(fts, 10.0, 1.0), Double).label("carried"),
            )
            .select_from(Post)
            .join(index, index.c.rowid == Post.key)
            .where(fts.op("MATCH")(bindparam("search_match", self.match)))
        )
        return visible(query).order_by(Post.key.desc()).limit(limit).subquery("candidates")

    def score(self, carried: ColumnElement[Any]) -> ColumnElement[float]:
        return carried


class SqliteSearch:
    async def prepare(
        self, session: AsyncSession, parsed: ParsedQuery, raw: str, *, before_key: int | None
    ) -> SearchPlan | None:
        del session, raw, before_key
        return None if parsed.empty else SqliteSearchPlan(fts5_expression(parsed))


_BACKENDS: dict[str, SearchBackend] = {"postgresql": PostgresSearch(), "sqlite": SqliteSearch()}


def backend_for(dialect: str) -> SearchBackend:
    try:
        return _BACKENDS[dialect]
    except KeyError:  # pragma: no cover - the migration refuses other databases first
        raise RuntimeError(f"no full-text search for {dialect}") from None
