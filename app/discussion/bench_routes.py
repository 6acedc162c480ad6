"""Benchmark-only endpoints, mounted only with `EXCHANGE_BENCHMARK_ENDPOINTS=true` (refused in
production) and never listed in the OpenAPI document. They exist so `bench/` can measure the
cost of the trust model inside the same app, under the same load:

- `GET /api/v1/_bench/topics/{slug}/threads`: exactly the page query of the gated
  `GET /api/v1/topics/{slug}/threads` (topic lookup, 50-row keyset page joined to authors,
  same serialisation, same unit of work) without the token, revocation, eligibility and
  scope checks. Unauthenticated: it would leak every topic, hence off by default.
- `GET /api/v1/_bench/bare`: a constant JSON document, for the framework's own ceiling.
"""

from __future__ import annotations

from fastapi import APIRouter

from app.auth import DbSession
from app.core.errors import NotFound
from app.core.pagination import Page
from app.core.uow import domain_router
from app.discussion import repository
from app.discussion.routes import PageArgs, SlugPath, int_cursor, thread_page_response
from app.discussion.schemas import ThreadRead

router = domain_router(tags=["benchmark"], include_in_schema=False)
bare_router = APIRouter(tags=["benchmark"], include_in_schema=False)


@router.get("/_bench/topics/{slug}/threads")
async def bench_threads(slug: SlugPath, session: DbSession, page: PageArgs) -> Page[ThreadRead]:
    limit, cursor = page
    before = int_cursor(cursor)
    topic = await repository.topic_by_slug(session, slug)
    if topic is None:
        raise NotFound()
    rows = await repository.thread_page(
        session, topic.id, include_quarantined=False, before_seq=before, limit=limit + 1
    )
    return thread_page_response(rows, topic.slug, limit)


@bare_router.get("/_bench/bare")
async def bench_bare() -> dict[str, str]:
    return {"status": "ok"}
