"""CSL list parsing: layouts, country extraction, stable ids and errors that name the line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.screening.listfile import ListEntry, ListFormatError, parse_list

EVAL_LIST = Path(__file__).resolve().parents[1] / "data" / "screening" / "eval_list.csv"

HEADER = "_id,source,entity_number,type,programs,name,addresses,alt_names,citizenships,nationalities,dates_of_birth,remarks\n"  # noqa: E501


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """Parsing touches no database, so the suite-wide cleanup is not needed."""


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(row + "\n" for row in rows)).encode()


def only(data: bytes) -> ListEntry:
    entries = parse_list(data).entries
    assert len(entries) == 1
    return entries[0]


def test_csv_row_becomes_an_entry() -> None:
    entry = only(csv_bytes(
        'e1,SDN,17,Individual,SDGT; IRAN,"SIDOROV, Ivan Petrovich",'
        '"12 Main St, Moscow, , , RU; 3 Side St, Dubai, , , United Arab Emirates",'
        "Ivan Sidorov; I. P. Sidorov,Iran,KZ,1960-01-02,Also known as the Colonel"
    ))
    assert entry == ListEntry(
        entry_id="e1",
        name="SIDOROV, Ivan Petrovich",
        alt_names=("Ivan Sidorov", "I. P. Sidorov"),
        source="SDN",
        programs=("SDGT", "IRAN"),
        countries=frozenset({"RU", "AE", "IR", "KZ"}),
        entity_type="Individual",
        remarks="Also known as the Colonel",
        dates_of_birth=("1960-01-02",),
    )


def test_country_names_and_codes_are_mapped_to_alpha_2() -> None:
    entry = only(csv_bytes(
        'e1,SDN,1,Individual,,Kim Chol,"Pyongyang, Korea, North",,"Russia; Korea, South",'
        "xk,,"
    ))
    assert entry.countries == {"KP", "RU", "KR", "XK"}


def test_unknown_country_spellings_are_dropped_not_fatal() -> None:
    # A US state code in the middle of an address is not read as a country.
    entry = only(csv_bytes('e1,DPL,1,Individual,,John Smith,"1 Elm St, Miami, CA, 33101, ",,'
                           "Atlantis,,,"))
    assert entry.countries == frozenset()


def test_utf8_bom_and_header_case_are_accepted() -> None:
    data = "\ufeffID,Source,Name,Alt_Names\nx1,EL,Rosoboronexport,\n".encode()
    entry = only(data)
    assert (entry.entry_id, entry.source, entry.name) == ("x1", "EL", "Rosoboronexport")


def test_alt_names_repeating_the_name_are_dropped() -> None:
    entry = only(csv_bytes(
        "e1,SDN,1,Individual,,Ali Hassan,,ALI HASSAN; Ali  Hassan; A. Hassan,,,,"
    ))
    assert entry.alt_names == ("A. Hassan",)


def test_json_results_object_with_lists() -> None:
    document = {
        "results": [
            {
                "id": "j1",
                "source": "Entity List (EL) - Bureau of Industry and Security",
                "type": "Entity",
                "programs": ["EAR"],
                "name": "Novin Trading Co., Ltd.",
                "alt_names": ["Novin Trading", "Novin Trading LLC"],
                "addresses": [{"address": "1 Road", "city": "Tehran", "country": "IR"},
                              {"city": "Dubai", "country": "United Arab Emirates"}],
                "citizenships": None,
                "nationalities": ["SY"],
            }
        ]
    }
    entry = only(json.dumps(document).encode())
    assert entry.entry_id == "j1"
    assert entry.alt_names == ("Novin Trading", "Novin Trading LLC")
    assert entry.countries == {"IR", "AE", "SY"}
    assert entry.programs == ("EAR",)


def test_json_list_with_string_fields() -> None:
    data = json.dumps([
        {"_id": "a", "name": "Ali Hassan", "alt_names": "Ali Hasan; Aly Hassan",
         "citizenships": "IQ, SY", "source": "SDN"},
        {"_id": "b", "name": "Kim Chol", "source": "SDN", "entity_number": 12},
    ]).encode()
    parsed = parse_list(data)
    assert [e.entry_id for e in parsed.entries] == ["a", "b"]
    assert parsed.entries[0].alt_names == ("Ali Hasan", "Aly Hassan")
    assert parsed.entries[0].countries == {"IQ", "SY"}
    assert parsed.source_counts == {"SDN": 2}


def test_checksum_and_source_counts() -> None:
    data = csv_bytes("e1,SDN,,,,Ali Hassan,,,,,,", "e2,EL,,,,Acme Ltd,,,,,,",
                     "e3,SDN,,,,Kim Chol,,,,,,")
    parsed = parse_list(data)
    assert parsed.checksum == hashlib.sha256(data).hexdigest()
    assert parsed.source_counts == {"EL": 1, "SDN": 2}


def test_missing_ids_get_stable_derived_ids() -> None:
    first = parse_list(csv_bytes(",SDN,,,,Ali  Hassan,,,,,,", ",SDN,,,,Ali Hassan,,,,,,"))
    again = parse_list(csv_bytes(",SDN,,,,ALI HASSAN,,,,,,", ",SDN,,,,ali hassan,,,,,,"))
    ids = [e.entry_id for e in first.entries]
    # Same source and name: different people sharing a name, kept apart in file order.
    assert ids[0] != ids[1]
    assert ids[1] == f"{ids[0]}-2"
    assert ids == [e.entry_id for e in again.entries]
    other_source = parse_list(csv_bytes(",EL,,,,Ali Hassan,,,,,,"))
    assert other_source.entries[0].entry_id != ids[0]


def test_missing_name_column_is_reported_on_line_one() -> None:
    with pytest.raises(ListFormatError) as caught:
        parse_list(b"_id,source,alt_names\n1,SDN,Ali\n")
    assert caught.value.line == 1
    assert "name" in caught.value.message


def test_empty_name_names_its_line_after_a_multiline_field() -> None:
    data = csv_bytes(
        'e1,SDN,,,,Ali Hassan,"1 Road,\nBaghdad, , , IQ",,,,,',  # record spans lines 2-3
        "e2,SDN,,,,Kim Chol,,,,,,",
        "e3,SDN,,,,   ,,,,,,",
    )
    with pytest.raises(ListFormatError) as caught:
        parse_list(data)
    assert caught.value.line == 5
    assert "empty name" in str(caught.value)


def test_duplicate_id_names_both_lines() -> None:
    data = csv_bytes("e1,SDN,,,,Ali Hassan,,,,,,", "e2,SDN,,,,Kim Chol,,,,,,",
                     "e1,EL,,,,Acme Ltd,,,,,,")
    with pytest.raises(ListFormatError) as caught:
        parse_list(data)
    assert caught.value.line == 4
    assert "duplicate id 'e1'" in caught.value.message
    assert "line 2" in caught.value.message


def test_non_utf8_bytes_name_the_line() -> None:
    data = csv_bytes("e1,SDN,,,,Ali Hassan,,,,,,") + "e2,SDN,,,,Jos\xe9 Garc\xeda,,,,,,\n".encode(
        "latin-1")
    with pytest.raises(ListFormatError) as caught:
        parse_list(data)
    assert caught.value.line == 3
    assert "UTF-8" in caught.value.message


def test_header_only_has_no_entries() -> None:
    with pytest.raises(ListFormatError, match="no entries"):
        parse_list(HEADER.encode())


@pytest.mark.parametrize("data", [b"", b"\n\n", b"[]", b'{"results": []}'])
def test_empty_files_have_no_entries(data: bytes) -> None:
    with pytest.raises(ListFormatError, match="no entries"):
        parse_list(data)


def test_unparseable_json_names_the_line() -> None:
    with pytest.raises(ListFormatError) as caught:
        parse_list(b'[\n  {"_id": "a", "name": "Ali"},\n  {"_id": "b" "name": "Kim"}\n]')
    assert caught.value.line == 3
    assert "unparseable JSON" in caught.value.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"entries": []}', "no 'results' list"),
        (b'{"results": {"_id": "a", "name": "Ali"}}', "no 'results' list"),
        (b'[{"_id": "a", "name": "Ali"}, "Kim"]', "entry 2: expected an object"),
        (b'[{"_id": "a", "name": "Ali"}, {"_id": "b"}]', "entry 2: empty name"),
        (b'[{"_id": "a", "name": "Ali"}, {"_id": "a", "name": "Kim"}]', "duplicate id 'a'"),
    ],
)
def test_malformed_json(data: bytes, message: str) -> None:
    with pytest.raises(ListFormatError, match=message):
        parse_list(data)


def test_nul_bytes_and_extra_fields_are_rejected_with_lines() -> None:
    with pytest.raises(ListFormatError) as nul:
        parse_list(csv_bytes("e1,SDN,,,,Ali\x00 Hassan,,,,,,"))
    assert nul.value.line == 2
    with pytest.raises(ListFormatError) as extra:
        parse_list(csv_bytes("e1,SDN,,,,Ali Hassan,,,,,,", "e2,SDN,,,,Kim Chol,,,,,,,,,,"))
    assert extra.value.line == 3


def test_evaluation_list_parses() -> None:
    parsed = parse_list(EVAL_LIST.read_bytes())
    assert len(parsed.entries) >= 2000
    assert len({e.entry_id for e in parsed.entries}) == len(parsed.entries)
    sidorov = next(e for e in parsed.entries if e.name == "SIDOROV, Ivan Petrovich")
    assert sidorov.alt_names == ("Ivan Sidorov",)
    assert "RU" in sidorov.countries
    assert sum(e.entity_type == "Entity" for e in parsed.entries) >= 500
