"""Full-text search on both databases: matching, ranking, pagination, visibility before LIMIT,
and hostile query text."""

from __future__ import annotations

from typing import Any

import pytest

from app.discussion import repository
from app.discussion.search import fts5_expression, parse
from tests.discussion_support import all_pages, create_thread, reply, us_member
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
