"""Validated input types shared by every domain's request schemas."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pycountry
from annotated_types import GroupedMetadata
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL_STRICT = re.compile(r"[\x00-\x1f\x7f]")

# Kosovo is not in ISO 3166-1 (pycountry has 249 entries); the US government, the EU and
# SWIFT use the user-assigned code XK, so we accept and seed it.
EXTRA_COUNTRIES = {"XK": "Kosovo"}


class Input(BaseModel):
    """Base for request bodies: unknown fields are refused, so nobody can smuggle in `roles`.

    NUL characters are refused anywhere in a body: PostgreSQL cannot store them, and no
    legitimate field needs one.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if _contains_nul(data):
            raise ValueError("NUL characters are not allowed")
        return data


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains_nul(v) for v in value)
    return False


def _no_control_lines(value: str) -> str:
    if _CONTROL_STRICT.search(value):
        raise ValueError("control characters are not allowed")
    return value


def _no_control_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters other than newline and tab are not allowed")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


@dataclass(frozen=True)
class SingleLine(GroupedMetadata):
    """A single line of text: no control characters at all, not blank."""

    max_length: int
    min_length: int = 1

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(min_length=self.min_length, max_length=self.max_length)
        yield AfterValidator(_no_control_lines)
        yield AfterValidator(_not_blank)


@dataclass(frozen=True)
class MultiLine(GroupedMetadata):
    """Multi-line text: newline and tab allowed, other control characters refused."""

    max_length: int
    min_length: int = 1

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(min_length=self.min_length, max_length=self.max_length)
        yield AfterValidator(_no_control_text)
        yield AfterValidator(_not_blank)


Reason = Annotated[str, MultiLine(2000)]


def is_country_code(code: str) -> bool:
    return code in EXTRA_COUNTRIES or pycountry.countries.get(alpha_2=code) is not None


def _country_code(value: str) -> str:
    code = value.upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha() or not is_country_code(code):
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


CountryCode = Annotated[
    str, StringConstraints(min_length=2, max_length=2), AfterValidator(_country_code)
]


def normalise_email(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().lower()
