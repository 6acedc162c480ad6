"""Property-based fuzzing of the API from its own OpenAPI document: whatever is sent, the
answer is documented and never a 500."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy.pool import NullPool

from app.core.database import Database
from app.core.runtime import Runtime
from app.core.settings import Settings
from app.main import create_app

# From the document itself: loading it over ASGI would start an app against default settings.
schema = schemathesis.openapi.from_dict(create_app().openapi())

EXAMPLES = int(os.environ.get("EXCHANGE_FUZZ_EXAMPLES", "8"))


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings) -> Any:
    """An app whose connections are opened in whichever event loop the client runs
    (NullPool): schemathesis drives it synchronously, outside the tests' own loop."""
    return create_app(
        runtime=Runtime.build(settings, Database(settings.database_url, poolclass=NullPool))
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_on_bad_input(case: Any, fuzz_app: Any) -> None:
    response = case.call(app=fuzz_app)
    assert response.status_code < 500, (case.method, case.path, response.text)
