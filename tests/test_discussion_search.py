"""Full-text search on both databases: matching, ranking, pagination, visibility before LIMIT,
and hostile query text."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from app.core.pagination import Page, encode_cursor
from app.discussion import repository, search
from app.discussion.schemas import EXCERPT_CHARS, SearchHit
from app.discussion.search import (
    BucketRewrite,
    TsNode,
    UnsupportedQuery,
    fts5_expression,
    parse,
    parse_tsquery,
    plan_postgres_search,
)
from tests.discussion_support import (
    all_pages,
    create_thread,
    jp_member,
    moderator,
    ok,
    reply,
    us_member,
)
from tests.helpers import World


async def _search(world: World, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await world.client.get("/search", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_query_parsing() -> None:
    parsed = parse('robust "reward model" -jailbreak or evals OR x AND')
    words = [[t.words for t in group] for group in parsed.groups]
    assert words == [[("robust",)], [("reward", "model"), ("evals",), ("x",)], [("and",)]]
    assert [t.words for t in parsed.excluded] == [("jailbreak",)]
    assert fts5_expression(parsed) == (
        '("robust" AND ("reward model" OR "evals" OR "x") AND "and") NOT ("jailbreak")'
    )
    assert parse("  !!! ").empty
    assert parse("-only -negative").empty
    assert fts5_expression(parse('say "hi"')) == '"say" AND "hi"'
    # Quotes never escape into FTS5 syntax.
    assert fts5_expression(parse('a" OR "b')) == '("a" OR "b")'
    assert fts5_expression(parse('x"y')) == '"x" AND "y"'


async def test_title_and_body_matches_ranked(world: World) -> None:
    us = await us_member(world)
    await world.topic("lab")
    in_title = await create_thread(world, us, "lab", "Sandbagging detection", "see below")
    other = await create_thread(world, us, "lab", "Other", "nothing here")
    in_body = await reply(world, us, other["id"], "we saw sandbagging once in a long report " * 3)
    hits = await _search(world, us.headers, q="sandbagging")
    ids = [h["post_id"] for h in hits["items"]]
    assert set(ids) == {in_title["first_post"]["id"], in_body["id"]}
    assert ids[0] == in_title["first_post"]["id"], "a title match ranks first"
    assert hits["items"][0]["thread"] == {"id": in_title["id"], "title": "Sandbagging detection"}
    assert hits["items"][0]["score"] >= hits["items"][1]["score"]
    # Stemming, phrases, exclusion.
    assert len((await _search(world, us.headers, q="detect"))["items"]) == 1
    assert len((await _search(world, us.headers, q='"long report"'))["items"]) == 1
    assert (await _search(world, us.headers, q="sandbagging -report"))["items"][0][
        "post_id"
    ] == in_title["first_post"]["id"]
    assert (await _search(world, us.headers, q="sandbagging", topic="lab"))["items"]


async def test_hits_have_the_declared_shape(world: World) -> None:
    """Hits are written as JSON directly (a hot path), so they must be exactly what the
    declared model would produce: same fields, same formats."""
    mod = await moderator(world)
    await world.topic("lab")
    thread = await create_thread(world, mod, "lab", "Shape", "shapely words " * 40)
    hidden = await reply(world, mod, thread["id"], "shapely but hidden")
    ok(
        await world.client.post(
            f"/mod/posts/{hidden['id']}/hide", json={"reason": "x"}, headers=mod.headers
        )
    )
    response = await world.client.get("/search", params={"q": "shapely"}, headers=mod.headers)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert Page[SearchHit].model_validate(body).model_dump(mode="json") == body
    hits = {hit["post_id"]: hit for hit in body["items"]}
    assert hits[hidden["id"]]["hidden"] is True
    first = hits[thread["first_post"]["id"]]
    assert first["hidden"] is False
    assert first["excerpt"].endswith("…") and len(first["excerpt"]) == EXCERPT_CHARS
    assert first["thread"] == {"id": thread["id"], "title": "Shape"}
    assert first["topic"]["slug"] == "lab" and first["author"]["id"] == str(mod.user_id)
    empty = await world.client.get("/search", params={"q": "the"}, headers=mod.headers)
    assert empty.json() == {"items": [], "next_cursor": None}
    # A cursor at the very first key: nothing is older.
    params = {"q": "shapely", "sort": "recent", "cursor": encode_cursor([0.0, 0])}
    first_key = await world.client.get("/search", params=params, headers=mod.headers)
    assert first_key.json() == {"items": [], "next_cursor": None}


async def test_search_pages_are_full_and_exact(world: World) -> None:
    """Invisible matches never shorten a page: visibility is applied before LIMIT."""
    us = await us_member(world)
    jp_like = await world.member("gen", citizenships=("JP",), residence="JP", affiliation="JP")
    await world.country("JP", status="certified", tier="general")
    await world.topic("open")
    await world.topic("closed", tier="restricted")
    visible = await create_thread(world, us, "open", "Visible", "needle 0")
    hidden = await create_thread(world, us, "closed", "Hidden", "needle hidden 0")
    for index in range(1, 7):
        await reply(world, us, visible["id"], f"needle {index}")
        await reply(world, us, hidden["id"], f"needle hidden {index}")
    first = await _search(world, jp_like.headers, q="needle", limit=3)
    assert len(first["items"]) == 3 and first["next_cursor"]
    every = await all_pages(world.client, "/search", jp_like.headers, limit=3, q="needle")
    assert len(every) == 7
    assert len({h["post_id"] for h in every}) == 7
    assert all(h["topic"]["slug"] == "open" for h in every)
    scores = [h["score"] for h in every]
    assert scores == sorted(scores, reverse=True)
    assert len(await all_pages(world.client, "/search", us.headers, limit=4, q="needle")) == 14


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "*",
        "AND",
        "OR",
        "NOT",
        "a AND",
        "(x",
        "x)",
        "NEAR(a b)",
        "col:x",
        "^x",
        "-",
        "--x",
        "' OR 1=1 --",
        "😀",
        "x" * 300,
        "é ü",
        "a|b",
        "!x & y",
        "a:*",
        "\\",
        "x\ty",
        "%1$s %s %%",
        '-"a phrase" or -x',
    ],
)
async def test_hostile_queries_never_fail(world: World, query: str) -> None:
    us = await us_member(world)
    await world.topic("lab")
    await create_thread(world, us, "lab", "T", "plain words")
    response = await world.client.get("/search", params={"q": query}, headers=us.headers)
    if "\t" in query:
        assert response.status_code == 422
        return
    assert response.status_code == 200, (query, response.text)


async def test_search_rejects_bad_input(world: World) -> None:
    us = await us_member(world)
    for params in [
        {},
        {"q": ""},
        {"q": "nul\x00"},
        {"q": "x" * 301},
        {"q": "a", "topic": "A!"},
        {"q": "a", "limit": 0},
        {"q": "a", "limit": 1000},
    ]:
        response = await world.client.get("/search", params=params, headers=us.headers)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_topic_filter_is_404(world: World) -> None:
    us = await us_member(world)
    response = await world.client.get(
        "/search", params={"q": "a", "topic": "nope"}, headers=us.headers
    )
    assert response.status_code == 404


async def test_edits_and_deletes_update_the_index(world: World) -> None:
    us = await us_member(world)
    await world.topic("lab")
    thread = await create_thread(world, us, "lab", "T", "original wording")
    post_id = thread["first_post"]["id"]
    edit = await world.client.patch(
        f"/posts/{post_id}", json={"body": "revised phrasing"}, headers=us.headers
    )
    assert edit.status_code == 200
    assert (await _search(world, us.headers, q="original"))["items"] == []
    assert len((await _search(world, us.headers, q="revised"))["items"]) == 1
    extra = await reply(world, us, thread["id"], "ephemeral")
    deleted = await world.client.delete(f"/posts/{extra['id']}", headers=us.headers)
    assert deleted.status_code == 204
    assert (await _search(world, us.headers, q="ephemeral"))["items"] == []


async def test_conftest_cleanup_empties_the_index(world: World) -> None:
    """Runs after tests that indexed posts: nothing from them is found any more."""
    us = await us_member(world)
    await world.topic("lab")
    await create_thread(world, us, "lab", "T", "fresh")
    for word in ["needle", "sandbagging", "original", "revised", "plain"]:
        assert (await _search(world, us.headers, q=word))["items"] == [], word


async def test_relevance_window_and_recent_order(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relevance ranks the newest SEARCH_CANDIDATES matches; `sort=recent` reaches all."""
    monkeypatch.setattr(repository, "SEARCH_CANDIDATES", 5)
    us = await us_member(world)
    await world.topic("lab")
    thread = await create_thread(world, us, "lab", "T", "window")
    posted = [thread["first_post"]["id"]]
    for index in range(7):
        posted.append((await reply(world, us, thread["id"], f"window {index}"))["id"])
    ranked = await all_pages(world.client, "/search", us.headers, limit=2, q="window")
    assert {h["post_id"] for h in ranked} == set(posted[-5:])
    recent = await all_pages(
        world.client, "/search", us.headers, limit=3, q="window", sort="recent"
    )
    assert [h["post_id"] for h in recent] == list(reversed(posted))


# --- PostgreSQL: walking the bucketed index -------------------------------------------------


def test_tsquery_is_rewritten_per_bucket() -> None:
    rewrite = BucketRewrite.of(_tree("'reward' & 'model' | 'eval'"))
    assert rewrite.for_bucket(7) == "(('reward~7' & 'model~7') | 'eval~7')"
    assert not rewrite.has_phrase and not rewrite.has_negation
    # A phrase is widened to AND (the caller re-checks); a negation needs the bucket marker.
    phrase = BucketRewrite.of(_tree("'o' <-> 'neil' & !'x'"))
    assert phrase.for_bucket(3) == "'~3' & ((('o~3' & 'neil~3') & !('x~3')))"
    assert phrase.has_phrase and phrase.has_negation
    # Quotes and backslashes stay as PostgreSQL printed them.
    assert BucketRewrite.of(_tree("'a''b' & 'c\\\\d'")).for_bucket(0) == "('a''b~0' & 'c\\\\d~0')"
    assert parse_tsquery("") is None and parse_tsquery("  ") is None
    # What cannot be rewritten exactly is refused, so the plain index answers instead.
    for printed in ["!( 'a' <-> 'b' )", "'a':*", "'a' & ", "('a'", "'a' 'b'", "'a' ~ 'b'"]:
        with pytest.raises(UnsupportedQuery):
            BucketRewrite.of(_tree(printed))


def _tree(printed: str) -> TsNode:
    tree = parse_tsquery(printed)
    assert tree is not None
    return tree


def test_search_plan_walks_the_newest_buckets_then_the_plain_index() -> None:
    small = plan_postgres_search("q", "'a'", 1, window=64)
    assert small is not None
    assert (small.walk_from, small.walk_to, small.older_than, small.recheck) == (1, 0, None, False)
    large = plan_postgres_search("q", "'a' <-> 'b' & '50%'", 121, window=64)
    assert large is not None
    assert (large.walk_from, large.walk_to, large.older_than) == (121, 58, 58)
    # One format() template for every bucket; a literal % is escaped.
    assert large.template == "(('a~%1$s' & 'b~%1$s') & '50%%~%1$s')" and large.recheck
    unsupported = plan_postgres_search("q", "!( 'a' <-> 'b' )", 121, window=64)
    assert unsupported is not None
    assert unsupported.walk_from < unsupported.walk_to and unsupported.older_than == 122
    assert plan_postgres_search("q", "", 5) is None
    assert plan_postgres_search("q", "'a'", -1) is None  # a cursor before the first post


def _postgres_only(world: World) -> None:
    if world.runtime.db.is_sqlite:
        pytest.skip("the bucketed index is PostgreSQL's; SQLite searches with FTS5")


async def _sql(world: World, statement: str, **params: Any) -> list[Any]:
    async with world.runtime.db.session() as session:
        return list((await session.execute(text(statement), params)).all())


async def _next_posts_in_bucket(world: World, bucket: int) -> None:
    """Moves the post key sequence so the next post lands in `bucket` (buckets only grow)."""
    await _sql(
        world,
        "SELECT setval('posts_key_seq', GREATEST(:key, last_value)) FROM posts_key_seq",
        key=bucket << 13,
    )


async def test_bucket_functions_agree_and_take_any_lexeme(world: World) -> None:
    _postgres_only(world)
    for key in [1, 8191, 8192, 2**40 + 5]:
        [(bucket, lexemes)] = await _sql(
            world,
            "SELECT search_bucket(:key), tsvector_to_array(search_bucketed("
            "to_tsvector('simple', 'alpha'), :key))",
            key=key,
        )
        assert bucket == key >> 13
        assert set(lexemes) == {f"alpha~{bucket}", f"~{bucket}"}
    # A 1,000-character (2,000-byte) word still fits once suffixed, and its post is found.
    us = await us_member(world)
    await world.topic("lab")
    await create_thread(world, us, "lab", "Long", f"{'é' * 1000} findable")
    assert len((await _search(world, us.headers, q="findable"))["items"]) == 1


async def test_bucket_walk_finds_what_a_plain_scan_finds(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posts spread over six buckets, a window of two buckets (the rest from the plain index):
    every query returns exactly the visible matches a plain scan returns, newest first, and
    relevance ranks exactly the newest SEARCH_CANDIDATES of them."""
    _postgres_only(world)
    monkeypatch.setattr(search, "SEARCH_WINDOW_BUCKETS", 2)
    monkeypatch.setattr(repository, "SEARCH_CANDIDATES", 3)
    us = await us_member(world)
    reader = await jp_member(world)
    mod = await moderator(world)
    await world.topic("open")
    await world.topic("closed", tier="restricted")
    start = (await _sql(world, "SELECT last_value FROM posts_key_seq"))[0][0] >> 13
    bodies = [
        "alpha beta",
        "beta alpha",
        "alpha gamma",
        "alpha and then beta",
        "gamma only",
        "alpha beta gamma",
    ]
    for offset, bucket in enumerate([1, 2, 4, 5, 7, 9]):
        await _next_posts_in_bucket(world, start + bucket)
        for index, body in enumerate(bodies[offset:] + bodies[:offset]):
            topic = "closed" if index == 5 else "open"
            thread = await create_thread(world, us, topic, f"T{bucket}-{index}", body)
            if index == 4 and offset % 2:
                post = thread["first_post"]["id"]
                ok(
                    await world.client.post(
                        f"/mod/posts/{post}/hide", json={"reason": "x"}, headers=mod.headers
                    )
                )
            if index == 3 and offset == 2:
                ok(
                    await world.client.delete(
                        f"/posts/{thread['first_post']['id']}", headers=us.headers
                    ),
                    204,
                )
    queries = [
        "alpha",
        "alpha beta",
        '"alpha beta"',
        "alpha -gamma",
        "alpha or gamma",
        'gamma -"alpha beta"',
        "beta or -gamma",
        "the and",
    ]
    for q in queries:
        expected = [
            str(row[0])
            for row in await _sql(
                world,
                "SELECT p.id FROM posts p JOIN topics t ON t.id = p.topic_id "
                "WHERE p.search_vector @@ websearch_to_tsquery('english', :q) "
                "AND t.tier = 'general' AND p.deleted_at IS NULL AND p.hidden_at IS NULL "
                "ORDER BY p.key DESC",
                q=q,
            )
        ]
        recent = await all_pages(
            world.client, "/search", reader.headers, limit=2, q=q, sort="recent"
        )
        assert [h["post_id"] for h in recent] == expected, q
        ranked = await all_pages(world.client, "/search", reader.headers, limit=2, q=q)
        assert sorted(h["post_id"] for h in ranked) == sorted(expected[:3]), q
    assert len(await all_pages(world.client, "/search", us.headers, q="alpha")) == 3
