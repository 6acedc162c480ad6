"""Benchmark-only plain transfer endpoints, mounted only with `EXCHANGE_BENCHMARK_ENDPOINTS=true`
(refused in production) and never listed in the OpenAPI document.

They are the baseline `bench/artifact_transfer.py` compares artifact uploads and downloads
against, in the same process and run: a raw request body streamed into the same blob
storage with the same write batching, and streamed back, with no multipart parsing, hashing,
encryption, authentication or database. Unauthenticated and storing plaintext under
`bench-plain/`, hence off by default.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.artifacts.storage import BlobNotFoundError
from app.artifacts.upload import WRITE_BATCH
from app.auth import AppRuntime
from app.core.errors import NotFound

router = APIRouter(tags=["benchmark"], include_in_schema=False)

PREFIX = "bench-plain"


@router.post("/_bench/artifacts/plain")
async def plain_upload(request: Request, runtime: AppRuntime) -> dict[str, object]:
    blob_id = uuid.uuid4()
    size = 0
    pending: list[bytes] = []
    pending_size = 0
    async with await runtime.storage.open_writer(f"{PREFIX}/{blob_id.hex}") as writer:
        async for chunk in request.stream():
            size += len(chunk)
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= WRITE_BATCH:
                await writer.write(b"".join(pending))
                pending, pending_size = [], 0
        if pending:
            await writer.write(b"".join(pending))
        await writer.commit()
    return {"id": blob_id.hex, "size": size}


@router.get("/_bench/artifacts/plain/{blob_id}")
async def plain_download(blob_id: uuid.UUID, runtime: AppRuntime) -> StreamingResponse:
    key = f"{PREFIX}/{blob_id.hex}"
    try:
        size = await runtime.storage.size(key)
    except BlobNotFoundError:
        raise NotFound() from None
    return StreamingResponse(
        runtime.storage.read(key),
        media_type="application/octet-stream",
        headers={"Content-Length": str(size)},
    )
