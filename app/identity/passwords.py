"""Password acceptance per NIST SP 800-63B Rev. 4.

At least 15 characters, up to 128 accepted, no composition rules, never truncated; refused
when common or guessable (zxcvbn's dictionaries of common passwords, names and words, plus the
user's own e-mail and name as context).
"""

from __future__ import annotations

import re
import unicodedata

from app.core.errors import Unprocessable

MIN_LENGTH = 15
MAX_LENGTH = 128
# zxcvbn score 0-4; below 3 means guessable within ~10^8 guesses.
MIN_SCORE = 3


def _user_words(email: str, display_name: str) -> list[str]:
    local, _, domain = email.partition("@")
    words = [email, local, domain, display_name, *re.split(r"[\W_]+", local + " " + display_name)]
    return [w for w in words if len(w) >= 3]


# Context-specific words (SP 800-63B): the service's own name is an obvious guess.
SERVICE_WORDS = ("durc exchange", "durc", "exchange")
# What must remain once the user's own words are taken out.
MIN_OWN_CHARACTERS = 8


def _mostly_context(password: str, words: list[str]) -> bool:
    remainder = password.casefold()
    for word in sorted({w.casefold() for w in [*words, *SERVICE_WORDS]}, key=len, reverse=True):
        remainder = remainder.replace(word, "")
    return len(re.sub(r"[\W_]+", "", remainder)) < MIN_OWN_CHARACTERS


def check_password(password: str, *, email: str, display_name: str) -> None:
    normalised = unicodedata.normalize("NFKC", password)
    if len(normalised) < MIN_LENGTH:
        raise Unprocessable(
            f"Use at least {MIN_LENGTH} characters; a passphrase of several words works well.",
            code="weak_password",
        )
    if len(normalised) > MAX_LENGTH:
        raise Unprocessable(f"Use at most {MAX_LENGTH} characters.", code="weak_password")
    context = _user_words(email, display_name)
    if _mostly_context(normalised, context):
        raise Unprocessable(
            "This password is built from your own name or e-mail address.", code="weak_password"
        )
    # Imported here: its dictionaries cost ~12 MiB, paid only by processes that check passwords.
    from zxcvbn import zxcvbn

    result = zxcvbn(normalised, user_inputs=context, max_length=MAX_LENGTH)
    if result["score"] < MIN_SCORE:
        warning = result["feedback"].get("warning") or "This password is too easy to guess."
        raise Unprocessable(f"{warning} Choose a less predictable password.", code="weak_password")
