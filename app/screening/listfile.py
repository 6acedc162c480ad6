"""Parser for denied-party lists in the US Consolidated Screening List (CSL) layout.

Pure functions over ``bytes``: no I/O, no database. The caller enforces the
upload size limit and stores the result; this module only decides whether the
file is a usable list and turns it into :class:`ListEntry` values.

Countries are kept as ISO 3166-1 alpha-2 codes. Kosovo has no ISO code and is
absent from pycountry, but US lists use the user-assigned ``XK``, so ``XK`` is
accepted as a code.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

_pycountry: ModuleType | None
try:
    import pycountry as _pycountry
except ImportError:  # pragma: no cover - pycountry is a declared dependency
    _pycountry = None

__all__ = ["ListEntry", "ListFormatError", "ParsedList", "parse_list"]


class ListFormatError(ValueError):
    """The file cannot be used as a list. ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


@dataclass(frozen=True, slots=True)
class ListEntry:
    entry_id: str
    name: str
    alt_names: tuple[str, ...]
    source: str
    programs: tuple[str, ...]
    countries: frozenset[str]
    entity_type: str
    remarks: str
    # Shown to the reviewer to tell namesakes apart; never used for scoring.
    dates_of_birth: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedList:
    entries: list[ListEntry]
    source_counts: dict[str, int]
    checksum: str


_KOSOVO = "XK"

# Spellings used by US government lists that pycountry's lookup does not know.
_COUNTRY_ALIASES: dict[str, str] = {
    "russia": "RU",
    "burma": "MM",
    "turkey": "TR",
    "uae": "AE",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "palestine": "PS",
    "west bank": "PS",
    "gaza": "PS",
    "macau": "MO",
    "macao": "MO",
    "kosovo": _KOSOVO,
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
    "north korea": "KP",
    "korea, north": "KP",
    "korea, democratic people's republic of": "KP",
    "south korea": "KR",
    "korea, south": "KR",
    "democratic republic of the congo": "CD",
    "congo, democratic republic of the": "CD",
    "republic of the congo": "CG",
    "congo, republic of the": "CG",
    "the bahamas": "BS",
    "the gambia": "GM",
    "vatican city": "VA",
    "syria": "SY",
    "iran": "IR",
    "laos": "LA",
    "vietnam": "VN",
    "czechia": "CZ",
    "cape verde": "CV",
    "swaziland": "SZ",
    "east timor": "TL",
}

_CODE_RE = re.compile(r"[A-Za-z]{2}")
_SEMICOLON = re.compile(";")


@functools.lru_cache(maxsize=4096)
def _country_code(value: str) -> str | None:
    """Map one country spelling to alpha-2, or ``None`` when unknown.

    Unknown spellings are dropped rather than rejected: countries only ever
    boost a match, so a list must not fail to import over an odd spelling.
    """
    text = " ".join(value.split()).strip(" .")
    if not text:
        return None
    if _CODE_RE.fullmatch(text):
        code = text.upper()
        if _pycountry is None or code == _KOSOVO:
            return code
        return code if _pycountry.countries.get(alpha_2=code) is not None else None
    if _pycountry is None:
        return None
    alias = _COUNTRY_ALIASES.get(text.casefold())
    if alias is not None:
        return alias
    try:
        country = _pycountry.countries.lookup(text)
    except LookupError:
        return None
    code = country.alpha_2
    return str(code)


def _countries_from_list_field(value: object) -> set[str]:
    """Citizenship/nationality fields: codes or names separated by ``;`` or ``,``.

    Each ``;`` part is tried whole before splitting on commas, because some
    official names contain one ("Korea, North").
    """
    found: set[str] = set()
    for part in _as_items(value, _SEMICOLON):
        code = _country_code(part)
        if code is not None:
            found.add(code)
            continue
        for piece in part.split(","):
            code = _country_code(piece)
            if code is not None:
                found.add(code)
    return found


def _countries_from_address_text(text: str) -> set[str]:
    """Free-text CSV addresses: ``street, city, state, postal code, country; ...``.

    Only the country position is read: earlier parts hold US state codes
    ("CA", "GA") and place names ("Georgia") that would be taken for
    countries. With the five CSL fields present the country is the last one
    even when empty; shorter free text is read from its last non-empty part.
    """
    found: set[str] = set()
    for address in text.split(";"):
        fields = [p.strip() for p in address.split(",")]
        filled = [f for f in fields if f]
        if not filled:
            continue
        if len(fields) >= 5 and not fields[-1]:
            continue
        code = _country_code(filled[-1])
        if code is None and len(filled) >= 2:
            # Official names with a comma: "Korea, North".
            code = _country_code(f"{filled[-2]}, {filled[-1]}")
        if code is not None:
            found.add(code)
    return found


def _countries_from_json_addresses(value: object) -> set[str]:
    if isinstance(value, str):
        return _countries_from_address_text(value)
    found: set[str] = set()
    if isinstance(value, list):
        for address in value:
            if isinstance(address, Mapping):
                country = address.get("country")
                if isinstance(country, str):
                    code = _country_code(country)
                    if code is not None:
                        found.add(code)
            elif isinstance(address, str):
                found |= _countries_from_address_text(address)
    return found


def _as_items(value: object, separator: re.Pattern[str]) -> list[str]:
    """A CSV cell or JSON value (string, list, null, number) as clean strings."""
    if value is None:
        return []
    raw: Iterable[object]
    if isinstance(value, str):
        raw = separator.split(value)
    elif isinstance(value, list | tuple):
        raw = value
    else:
        raw = [value]
    items: list[str] = []
    for item in raw:
        if item is None or isinstance(item, dict | list):
            continue
        text = " ".join(str(item).split())
        if text:
            items.append(text)
    return items


def _text(value: object) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return " ".join(str(value).split())



def _dedupe(items: Iterable[str], exclude: str = "") -> tuple[str, ...]:
    seen = {exclude.casefold()} if exclude else set()
    out: list[str] = []
    for item in items:
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return tuple(out)


def _derived_id(source: str, name: str) -> str:
    # Case and spacing are folded so that re-exporting the same list with
    # cosmetic changes keeps ids (and therefore alert history) stable.
    key = f"{source.casefold()}\x1f{' '.join(name.casefold().split())}"
    return "derived-" + hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(slots=True)
class _RawRecord:
    line: int | None
    label: str
    fields: Mapping[str, Any]
    is_json: bool


def _build_entries(records: Iterable[_RawRecord]) -> list[ListEntry]:
    entries: list[ListEntry] = []
    explicit_ids: dict[str, str] = {}
    derived_counts: Counter[str] = Counter()
    for record in records:
        fields = record.fields
        name = _text(fields.get("name"))
        if not name:
            raise ListFormatError(f"{record.label}: empty name", record.line)
        if not _has_letter(name):
            raise ListFormatError(f"{record.label}: name has no letters: {name!r}", record.line)
        source = _text(fields.get("source"))
        raw_id = _text(fields.get("_id")) or _text(fields.get("id"))
        if raw_id:
            if raw_id in explicit_ids:
                raise ListFormatError(
                    f"{record.label}: duplicate id {raw_id!r} (first seen at "
                    f"{explicit_ids[raw_id]})",
                    record.line,
                )
            explicit_ids[raw_id] = record.label
            entry_id = raw_id
        else:
            base = _derived_id(source, name)
            derived_counts[base] += 1
            # Same source and name twice without ids: different people who
            # share a name, so keep both, in file order.
            n = derived_counts[base]
            entry_id = base if n == 1 else f"{base}-{n}"

        if record.is_json:
            alt_names = _as_items(fields.get("alt_names"), _SEMICOLON)
            countries = _countries_from_json_addresses(fields.get("addresses"))
        else:
            alt_names = _as_items(fields.get("alt_names"), _SEMICOLON)
            countries = _countries_from_address_text(_text(fields.get("addresses")))
        countries |= _countries_from_list_field(fields.get("citizenships"))
        countries |= _countries_from_list_field(fields.get("nationalities"))

        entries.append(
            ListEntry(
                entry_id=entry_id,
                name=name,
                alt_names=_dedupe((a for a in alt_names if _has_letter(a)), exclude=name),
                source=source,
                programs=_dedupe(_as_items(fields.get("programs"), _SEMICOLON)),
                countries=frozenset(countries),
                entity_type=_text(fields.get("type")),
                remarks=_text(fields.get("remarks")),
                dates_of_birth=_dedupe(_as_items(fields.get("dates_of_birth"), _SEMICOLON)),
            )
        )
    explicit = set(explicit_ids)
    for entry in entries:
        if entry.entry_id.startswith("derived-") and entry.entry_id in explicit:
            raise ListFormatError(f"derived id {entry.entry_id!r} clashes with an explicit id")
    if not entries:
        raise ListFormatError("the list has no entries")
    return entries


def _has_letter(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ListFormatError(
            f"not valid UTF-8 (byte offset {exc.start}); re-export the list as UTF-8", line
        ) from exc


def _header_key(name: str) -> str:
    return "_".join(name.strip().casefold().replace("-", " ").split())


def _csv_records(text: str) -> Iterator[_RawRecord]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ListFormatError(f"unreadable CSV header: {exc}", 1) from exc
    if header is None:
        raise ListFormatError("the list has no entries")
    keys = [_header_key(h) for h in header]
    if "name" not in keys:
        raise ListFormatError("missing required column 'name'", 1)
    duplicated = sorted({k for k in keys if k and keys.count(k) > 1})
    if duplicated:
        raise ListFormatError(f"duplicate columns: {', '.join(duplicated)}", 1)
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ListFormatError(f"unreadable CSV row: {exc}", start) from exc
        previous_end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(keys):
            raise ListFormatError(
                f"row has {len(row)} fields but the header has {len(keys)}", start
            )
        yield _RawRecord(
            line=start, label=f"line {start}", fields=dict(zip(keys, row, strict=False)),
            is_json=False,
        )


def _json_records(text: str) -> Iterator[_RawRecord]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ListFormatError(f"unparseable JSON: {exc.msg}", exc.lineno) from exc
    if isinstance(document, Mapping):
        results = document.get("results")
        if not isinstance(results, list):
            raise ListFormatError("JSON object has no 'results' list")
        items: list[Any] = results
    elif isinstance(document, list):
        items = document
    else:
        raise ListFormatError("JSON must be a list of entries or an object with 'results'")
    # Downloaded CSL JSON is usually one long line, so the entry's position
    # in the list is more useful to an admin than a line number.
    for index, item in enumerate(items, start=1):
        label = f"entry {index}"
        if not isinstance(item, Mapping):
            raise ListFormatError(f"{label}: expected an object")
        yield _RawRecord(
            line=None,
            label=label,
            fields={_header_key(str(k)): v for k, v in item.items()},
            is_json=True,
        )


def parse_list(data: bytes) -> ParsedList:
    """Parse a CSL export given as CSV or JSON; the format is sniffed from the content."""
    text = _decode(data)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ListFormatError("file contains NUL bytes; not a text list", line)
    stripped = text.lstrip()
    if not stripped:
        raise ListFormatError("the list has no entries")
    records = _json_records(text) if stripped[:1] in ("[", "{") else _csv_records(text)
    entries = _build_entries(records)
    counts = Counter(entry.source for entry in entries)
    return ParsedList(
        entries=entries,
        source_counts=dict(sorted(counts.items())),
        checksum=hashlib.sha256(data).hexdigest(),
    )
