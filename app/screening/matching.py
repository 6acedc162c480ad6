"""Denied-party name matching: pure functions and an in-memory index.

How a score comes about
-----------------------
1. Names are normalised (:func:`name_tokens`): NFKC, transliteration to
   ASCII with anyascii (one token per CJK syllable), casefold, punctuation
   removed, "SURNAME, Given" turned round (remembering which parts were
   surnames), honorifics, legal forms and name particles dropped
   ("al-Qaddafi" becomes "qaddafi"); hyphenated parts are joined
   ("Jong-un" becomes "jongun") except after an Arabic article.
2. Name parts are compared pairwise. Two parts are the same part when they
   are equal; equal after transliteration folding (o/u and e/a vowels,
   kh/h, q/k/gh, y/i, yo/e, doubled letters: Mohammed/Muhammad,
   Sergei/Sergey, Qasem/Ghasem); known romanisations of one CJK surname
   (Zhang/Chang/Cheung); within a typo allowance (no edit up to four
   letters, one up to eight, two beyond, measured as written, or after
   folding when only vowels differ); and starting alike, or else sounding
   alike by Metaphone (Qaddafi/Gaddafi). An initial agrees with a part that
   starts with it. Parts written as one on one side ("Abdulrahman",
   "Nureddin") are compared with the joined parts on the other.
3. Parts are aligned one-to-one, best pairs first, in any order. The score
   is the mean Jaro-Winkler similarity of the pairs, weighted by part length,
   with unmatched parts counted against it: lightly when only one name has
   extra parts that look like a middle name, patronymic or second surname,
   heavily when *both* names have a part the other lacks (a different given
   name or surname).
4. Two full parts must agree whenever both names have two or more, so one
   shared common part ("Mohammed", "Trading") is never a match on its own.
5. A shared country adds a small boost, enough to reach review but never
   automatic suspension; a missing or different country never lowers a
   score, because list countries are incomplete.

Every name and alternate name of an entry is scored; the best one is
reported. Candidate names come from a vectorised prefilter (rapidfuzz
``cdist`` of the query's parts against the list's vocabulary of parts, as
written and folded, plus phonetic and romanisation lookups), so only names
with enough similar parts are scored in detail.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import jellyfish
import numpy as np
import numpy.typing as npt
from anyascii import anyascii
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler

from app.screening.listfile import ListEntry

__all__ = [
    "DEFAULT_AUTO_SUSPEND_THRESHOLD",
    "DEFAULT_REVIEW_THRESHOLD",
    "Match",
    "ScreeningIndex",
    "name_tokens",
    "normalize_name",
    "score_names",
]

# Calibrated on tests/data/screening with bench/screening_quality.py --sweep.
# Review: recall 0.9975 at a false-positive rate of 0.0069 there; it is set
# below the point where recall starts to fall, because a missed party costs
# more than a reviewed false alarm. Auto-suspend: no negative scores above
# 96.5 there (recall 0.83 at 98); exact and transliteration-equivalent names
# reach it, misspelt ones do not.
DEFAULT_REVIEW_THRESHOLD = 80.0
DEFAULT_AUTO_SUSPEND_THRESHOLD = 98.0

# ------------------------------------------------------------------ vocabularies
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_HONORIFICS = _words(
    """
    mr mrs ms miss mx dr doctor prof professor sheikh shaikh shaykh sheik cheikh haji hajji
    hadji haj hajj alhaj general gen colonel col lt lieutenant major maj captain capt cpt
    brigadier brig admiral adm commander cmdr sir lord lady imam mullah mulla maulana mawlana
    maulvi mawlawi ayatollah hojatoleslam emir prince princess president minister eng engineer
    hon rev reverend father mufti qari marshal senator ambassador judge
    """
)
_GENERATIONAL = frozenset({"jr", "sr", "ii", "iii", "iv", "junior", "senior"})
_LEGAL_FORMS = _words(
    """
    llc ltd limited co company inc incorporated corp corporation jsc pjsc ojsc cjsc ooo zao
    oao pao ao tov gmbh ag kg sa sal sas sarl srl spa sl plc llp lp bv nv ab oy oyj as asa
    fze fzco fzc fzllc fz dmcc pte pty pvt bhd sdn tbk kft zrt doo dd ad ead sti ca cv rl lda
    ltda sro sae saog saoc ksc kscc wll bsc qsc psc est
    """
)
_LEGAL_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        (
            tuple(p.split())
            for p in (
                "limited liability company",
                "limited liability partnership",
                "joint stock company",
                "public joint stock company",
                "closed joint stock company",
                "open joint stock company",
                "closed joint stock",
                "open joint stock",
                "joint stock",
                "sociedad anonima",
                "societe anonyme",
                "sa de cv",
                "s de rl de cv",
                "s de rl",
                "de cv",
                "de rl",
                "s a",
                "s l",
                "l l c",
            )
        ),
        key=len,
        reverse=True,
    )
)
_STOPWORDS = frozenset({"of", "the", "and", "for"})
_PARTICLES = _words(
    """
    al el ul ud ad ar as ash at az bin ibn bint binti abu ben van von de der den des del
    della degli di du da dos das zu ter ten vom zum zur le la lo
    """
)
# Also real names or syllables elsewhere (Vietnamese Le, Hebrew Ben, Chinese
# Bin): only a particle when it is not the first part.
_PARTICLES_NOT_FIRST = frozenset({"ben", "bin", "bint", "binti", "le", "la", "lo", "du", "do"})
# "Abd al-Karim" is not "Karim": these prefixes are part of the name.
_NAME_PREFIXES = frozenset({"abd", "abdul", "abdel", "abdal", "abdol", "abdu", "abdur", "abdus"})

_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4\u02bc\u02bb\u02b9]")
_DOTTED_ACRONYM = re.compile(r"\b[a-z](?:\.[a-z])+\b\.?")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af])")

# --------------------------------------------------------------------- scoring knobs
_PREFILTER_JW = 0.80  # looser than any accepted pair, so no true pair is filtered out
_TRANSLIT_SIM = 0.97  # same after transliteration folding
_PHONETIC_MIN_LENGTH = 5  # below this no edit is allowed, so sound cannot help
_PHONETIC_CAP = 0.90
_FUZZY_CAP = 0.95  # a misspelt part never counts as fully certain
_INITIAL = -1.0  # sentinel similarity for an initial agreeing with a part
_INITIAL_SIM = 0.90
_INITIAL_WEIGHT = 1.5
_MIDDLE_OMISSION = 0.15  # one name has an extra middle part (patronymic, second name)
_EDGE_OMISSION = 0.50  # one name has an extra first or last part
_UNMATCHED_INITIAL = 0.50
_SHORT_OMISSION = 0.5
_LIGHT_OMISSION = 0.5  # a particle left at the start of only one name
_NO_MATCH_CAP = 50.0  # score ceiling when too few parts agree
_COUNTRY_BOOST = 4.0
_COUNTRY_BOOST_FLOOR = 70.0  # a country never lifts a weak name match
_MAX_WEIGHT = 8
_MAX_QUERY_PARTS = 16


@dataclass(frozen=True, slots=True)
class Match:
    entry_id: str
    matched_name: str
    primary_name: str
    source: str
    score: float
    method: str


# ------------------------------------------------------------------ normalisation
_GIVEN, _SURNAME, _UNKNOWN = 1, 2, 0


@dataclass(frozen=True, slots=True)
class _Parsed:
    tokens: tuple[str, ...]
    # Per token: _GIVEN or _SURNAME when a "SURNAME, Given" comma said so.
    blocks: tuple[int, ...]


def _transliterate(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    # One token per CJK syllable, so "张伟" gives "Zhang Wei" and not "ZhangWei".
    return anyascii(_CJK.sub(r" \1 ", text))


_HYPHENS = re.compile(r"[-\u2010-\u2015]")
_ARTICLES = frozenset({"al", "el", "ul", "ud", "ad", "ar", "as", "ash", "at", "az"})


_HYPHENATED = re.compile(r"\b([a-z0-9]+)-+([a-z0-9]+)")


def _unhyphenate(match: re.Match[str]) -> str:
    # "al-Qaddafi" splits off its article; "Jong-un", "Ahmadi-Nejad" and
    # "Bin-hao" are one name part written in pieces, so they are joined.
    first, rest = match.group(1), match.group(2)
    return f"{first} {rest}" if first in _ARTICLES else first + rest


def _split(segment: str) -> list[str]:
    segment = _APOSTROPHES.sub("", segment)
    segment = _DOTTED_ACRONYM.sub(lambda m: m.group(0).replace(".", ""), segment)
    segment = _HYPHENS.sub("-", segment)
    previous = ""
    while previous != segment:
        previous = segment
        segment = _HYPHENATED.sub(_unhyphenate, segment)
    return [t for t in _NON_ALNUM.split(segment) if t]


def _is_designator(token: str) -> bool:
    return token in _LEGAL_FORMS or token in _GENERATIONAL or token in _HONORIFICS


_Tagged = list[tuple[str, int]]


def _drop_phrases(tagged: _Tagged) -> _Tagged:
    tokens = [t for t, _ in tagged]
    out: _Tagged = []
    i = 0
    while i < len(tagged):
        for phrase in _LEGAL_PHRASES:
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                i += len(phrase)
                break
        else:
            out.append(tagged[i])
            i += 1
    return out or tagged


def _drop(tagged: _Tagged, unwanted: Iterable[int]) -> _Tagged:
    """Remove positions, unless that would leave nothing to match on."""
    skip = set(unwanted)
    kept = [t for i, t in enumerate(tagged) if i not in skip]
    return kept if kept else tagged


def _strip_honorifics(tokens: list[str]) -> list[str]:
    leading = 0
    while leading < len(tokens) - 1 and tokens[leading] in _HONORIFICS:
        leading += 1
    return tokens[leading:]


@functools.lru_cache(maxsize=65536)
def _parse(name: str) -> _Parsed:
    text = _transliterate(name).casefold()
    head, comma, tail = text.partition(",")
    tagged: _Tagged
    if comma:
        head_tokens = _strip_honorifics(_split(head))
        tail_tokens = _split(tail)
        # "SIDOROV, Ivan" is turned round; "Acme, Ltd." is not.
        if head_tokens and tail_tokens and not all(_is_designator(t) for t in tail_tokens):
            tagged = [(t, _GIVEN) for t in tail_tokens] + [(t, _SURNAME) for t in head_tokens]
        else:
            tagged = [(t, _UNKNOWN) for t in head_tokens + tail_tokens]
    else:
        tagged = [(t, _UNKNOWN) for t in _split(text)]
    tagged = _drop_phrases(tagged)
    for unwanted in (_LEGAL_FORMS, _STOPWORDS, _GENERATIONAL):
        tagged = _drop(tagged, (i for i, (t, _) in enumerate(tagged) if t in unwanted))
    leading = 0
    while leading < len(tagged) - 1 and tagged[leading][0] in _HONORIFICS:
        leading += 1
    tagged = tagged[leading:]
    tagged = _drop(
        tagged,
        (
            i
            for i, (t, _) in enumerate(tagged)
            if t in _PARTICLES
            and i < len(tagged) - 1
            and not (i == 0 and t in _PARTICLES_NOT_FIRST)
        ),
    )
    return _Parsed(tuple(t for t, _ in tagged), tuple(b for _, b in tagged))


def name_tokens(name: str) -> tuple[str, ...]:
    """The comparable parts of a name, in reading order (given names first)."""
    return _parse(name).tokens


def normalize_name(name: str) -> str:
    """Normalised form of a name, as compared by the matcher."""
    return " ".join(name_tokens(name))


# Ordered: digraphs before the single letters they contain.
_FOLD_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        ("shch", "sh"),
        ("tch", "ch"),
        ("dzh", "j"),
        ("dj", "j"),
        ("zh", "j"),
        ("kh", "h"),
        # Persian and Arabic q and gh are one letter in Persian (Qasem/Ghasem).
        ("gh", "k"),
        ("dh", "d"),
        ("th", "t"),
        ("ph", "f"),
        ("ck", "k"),
        ("q", "k"),
        ("c(?![hiey])", "k"),
        ("x", "ks"),
        ("w", "v"),
        ("^ye", "e"),
        # Russian yo/e (Fyodor/Fedor); not before n, where Korean syllables
        # (Myong, Kyong) would be folded onto other names.
        ("(?<=[bcdfgklmnprstvz])yo(?=[bcdfgklmprstvz])", "e"),
        ("ou", "u"),
        ("oo", "u"),
        ("ee", "i"),
        ("y", "i"),
        ("o", "u"),
        ("e", "a"),
        # Final h after a vowel is silent: Hamzah/Hamza, Salameh/Salama.
        ("(?<=[aiu])h$", ""),
        (r"(.)\1+", r"\1"),
    )
)


@functools.lru_cache(maxsize=262144)
def _fold(token: str) -> str:
    """Transliteration-insensitive key: the spelling choices that romanisations
    of Arabic, Persian and Cyrillic names disagree on are mapped together
    (o/u and e/a vowels, kh/h, q/k, y/i, yo/e, doubled letters)."""
    for pattern, replacement in _FOLD_RULES:
        token = pattern.sub(replacement, token)
    return token


# Chinese and Korean surnames have several romanisations (pinyin, Wade-Giles,
# Cantonese, Revised/McCune-Reischauer) that no spelling rule connects.
_ROMANISATIONS = (
    "zhang chang cheung|wang wong|li lee lei|liu lau lou|chen chan|yang yeung|huang hwang|"
    "zhao chao chiu|wu ng woo|zhou chou chow|xu hsu tsui|sun suen|zhu chu|guo kuo kwok|he ho|"
    "gao kao ko|lin lam|luo lo law|zheng cheng|liang leung|xie hsieh tse|song sung|tang tong|"
    "han hon|feng fung|deng teng|cao tsao|zeng tseng tsang|xiao hsiao siu|tian tien|dong tung|"
    "pan poon pun|yuan yuen|cai tsai|jiang chiang keung|du tu to|ye yip yeh|kim gim|"
    "lee yi rhee ri|park pak bak|choi choe|jung jeong chung chong|kang gang|cho jo|yoon yun|"
    "jang chang|lim im rim|seo suh|shin sin|kwon gwon|ahn an|ryu yoo|jeon chon|moon mun|"
    "son sohn|bae pae|baek paek"
)
_EQUIVALENT: dict[str, frozenset[str]] = {}
for _group in _ROMANISATIONS.split("|"):
    for _token in _group.split():
        _EQUIVALENT[_token] = _EQUIVALENT.get(_token, frozenset()) | frozenset(_group.split())


@functools.lru_cache(maxsize=262144)
def _phonetic(token: str) -> str:
    return str(jellyfish.metaphone(_fold(token))) if token.isalpha() else token


def _allowed_edits(a: str, b: str) -> int:
    # One edit in a part of four letters or fewer usually makes another real
    # name (Ivan/Iran, Kwon/Kwok), so short parts must agree after folding.
    shorter, longer = sorted((len(a), len(b)))
    if shorter < 4 or longer <= 4:
        return 0
    return 1 if longer <= 8 else 2


@functools.lru_cache(maxsize=1 << 18)
def _token_similarity(a: str, b: str) -> float:
    """Similarity of two name parts in [0, 1]; 0 means "not the same part"."""
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        if (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b)):
            return _INITIAL
        return 0.0
    fa, fb = _fold(a), _fold(b)
    if fa == fb or b in _EQUIVALENT.get(a, ()):
        return _TRANSLIT_SIM
    if not _close_spelling(a, b, fa, fb):
        return 0.0
    sim = max(JaroWinkler.normalized_similarity(a, b), JaroWinkler.normalized_similarity(fa, fb))
    if not _same_start(a, b, fa, fb):
        # A slip rarely hits the first letter; a different first letter
        # (Qaddafi/Gaddafi) is accepted only when the parts sound alike.
        if _phonetic(a) != _phonetic(b):
            return 0.0
        return float(min(sim, _PHONETIC_CAP))
    return float(min(sim, _FUZZY_CAP))


_VOWELS = re.compile("[aeiou]")


def _close_spelling(a: str, b: str, fa: str, fb: str) -> bool:
    """Within the typo allowance as written, or after folding when only the
    vowels differ (Alexander/Aleksandr, Youssef/Yusuf). Folding alone would
    make any vowel free and pass lookalikes such as Salem/Salah."""
    allowed = _allowed_edits(a, b)
    if allowed == 0:
        return False
    if OSA.distance(a, b, score_cutoff=allowed + 1) <= allowed:
        return True
    return (
        OSA.distance(fa, fb, score_cutoff=allowed + 1) <= allowed
        and _VOWELS.sub("", fa) == _VOWELS.sub("", fb)
    )


def _phonetic_only(a: str, b: str) -> bool:
    """Whether the pair was accepted on sound despite different first letters."""
    fa, fb = _fold(a), _fold(b)
    if a == b or fa == fb or b in _EQUIVALENT.get(a, ()):
        return False
    return not _same_start(a, b, fa, fb)


def _same_start(a: str, b: str, fa: str, fb: str) -> bool:
    # Initial vowels are unreliable in romanisation (Ibrahim/Ebrahim).
    return a[0] == b[0] or fa[0] == fb[0] or (a[0] in "aeiou" and b[0] in "aeiou")


def _is_full(token: str) -> bool:
    """Initials and left-over particles ("de" in "de la Paz Raul") never
    signal a different person when only one name has them."""
    return len(token) > 1 and token not in _PARTICLES


def _weight(token: str) -> float:
    return float(min(len(token), _MAX_WEIGHT))


@dataclass(frozen=True, slots=True)
class _Score:
    score: float
    method: str


# Articles that disappear from "Nur ad-Din" but survive in "Nureddin".
_JOIN_INFIXES = ("", "al", "el", "ul", "ad", "ed", "ud", "ar", "ur", "as", "us", "ash", "at", "az")


@functools.lru_cache(maxsize=1 << 18)
def _joins_as(whole: str, first: str, second: str) -> bool:
    """Whether ``whole`` is ``first`` and ``second`` written as one part."""
    if len(whole) < len(first) + len(second) - 1:
        return False
    folded = _fold(whole)
    for infix in _JOIN_INFIXES:
        joined = first + infix + second
        if folded == _fold(joined):
            return True
        # Only long joined forms may also carry a slip; short ones would
        # turn "Hui Fung" into "Huifang".
        if len(joined) >= 9 and OSA.distance(whole, joined, score_cutoff=1) <= 1:
            return True
    return False


def _merge_joined(
    left: list[str], right: list[str], blocks: list[int]
) -> tuple[list[str], list[int], bool]:
    """Join adjacent parts of ``right`` that a part of ``left`` writes as one
    ("Abdul Rahman" against "Abdulrahman", "Jong Un" against "Jongun")."""
    merged = False
    j = 0
    out = list(right)
    out_blocks = list(blocks)
    wholes = [a for a in left if len(a) >= 4 and a not in right]
    while wholes and j < len(out) - 1:
        first, second = out[j], out[j + 1]
        whole = next((a for a in wholes if _joins_as(a, first, second)), None)
        if whole is not None:
            out[j : j + 2] = [whole]
            out_blocks[j : j + 2] = [out_blocks[j]]
            wholes.remove(whole)
            merged = True
            continue
        j += 1
    return out, out_blocks, merged


def _omission_cost(
    tokens: Sequence[str], blocks: Sequence[int], used: set[int], k: int, *, is_list_name: bool
) -> float:
    """Cost of a part only one name has, when everything else agrees.

    A part whose comma-marked block (given names or surnames) still has a
    matched part is a dropped middle name, patronymic or second surname;
    without that structure, inner parts are assumed to be middle names.
    """
    token = tokens[k]
    if token in _NAME_PREFIXES:
        return _weight(token)
    block = blocks[k]
    if block != _UNKNOWN:
        light = any(blocks[m] == block and m in used for m in range(len(tokens)) if m != k)
    elif is_list_name:
        # A list name with an extra trailing part: a second surname (Spanish
        # "Palma Martinez") or a middle name; an extra first part is another
        # given name, i.e. possibly another person.
        light = k > 0
    else:
        light = 0 < k < len(tokens) - 1
    if not light:
        return _weight(token) * _EDGE_OMISSION
    if len(token) >= 4:
        return _weight(token) * _MIDDLE_OMISSION
    # A short extra part is more often a syllable of a Chinese or Korean
    # given name ("Min Jun" is not "Min") than a dropped middle name.
    return _weight(token) * _EDGE_OMISSION + _SHORT_OMISSION


def _score_tokens(query: _Parsed, candidate: _Parsed) -> _Score:
    c, c_blocks, joined_c = _merge_joined(
        list(query.tokens), list(candidate.tokens), list(candidate.blocks)
    )
    q, q_blocks, joined_q = _merge_joined(c, list(query.tokens), list(query.blocks))

    cells: list[tuple[float, int, int, float]] = []
    for i, a in enumerate(q):
        for j, b in enumerate(c):
            sim = _token_similarity(a, b)
            if sim == _INITIAL:
                cells.append((0.5, i, j, sim))
            elif sim > 0.0:
                cells.append((sim, i, j, sim))
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))

    used_q: set[int] = set()
    used_c: set[int] = set()
    num = 0.0
    den = 0.0
    full_pairs = 0
    initials = False
    phonetic = False
    translit = False
    for _, i, j, sim in cells:
        if i in used_q or j in used_c:
            continue
        used_q.add(i)
        used_c.add(j)
        if sim == _INITIAL:
            num += _INITIAL_WEIGHT * _INITIAL_SIM
            den += _INITIAL_WEIGHT
            initials = True
            continue
        weight = (_weight(q[i]) + _weight(c[j])) / 2
        num += weight * sim
        den += weight
        full_pairs += 1
        if sim == _TRANSLIT_SIM:
            translit = True
        elif sim < 1.0 and _phonetic_only(q[i], c[j]):
            phonetic = True

    full_q = [i for i in range(len(q)) if i not in used_q and _is_full(q[i])]
    full_c = [j for j in range(len(c)) if j not in used_c and _is_full(c[j])]
    leftover_particles = [
        t
        for t in (*(q[i] for i in range(len(q)) if i not in used_q),
                  *(c[j] for j in range(len(c)) if j not in used_c))
        if len(t) > 1 and not _is_full(t)
    ]
    den += len(leftover_particles) * _LIGHT_OMISSION
    loose_initials = sum(1 for i in range(len(q)) if i not in used_q and len(q[i]) == 1)
    loose_initials += sum(1 for j in range(len(c)) if j not in used_c and len(c[j]) == 1)
    den += loose_initials * _UNMATCHED_INITIAL
    omission = False
    if full_q and full_c:
        # Each name has a part the other lacks: a different given name or
        # surname, i.e. most likely a different person.
        den += sum(_weight(q[i]) for i in full_q) + sum(_weight(c[j]) for j in full_c)
    else:
        for i in full_q:
            den += _omission_cost(q, q_blocks, used_q, i, is_list_name=False)
            omission = True
        for j in full_c:
            den += _omission_cost(c, c_blocks, used_c, j, is_list_name=True)
            omission = True
    score = 100.0 * num / den if den else 0.0

    # Two full parts must agree whenever both names have two or more parts,
    # and a one-part name only matches a one-part name.
    if (min(len(q), len(c)) >= 2 and full_pairs < 2) or full_pairs == 0 or (
        min(len(q), len(c)) == 1 and max(len(q), len(c)) >= 2
    ):
        score = min(score, _NO_MATCH_CAP)

    parts = ["token_jw"]
    if translit:
        parts.append("translit")
    if phonetic:
        parts.append("phonetic")
    if initials:
        parts.append("initials")
    if joined_c or joined_q:
        parts.append("joined")
    if omission:
        parts.append("omission")
    if score >= 100.0 and len(parts) == 1:
        return _Score(100.0, "exact")
    return _Score(score, "+".join(parts))


def score_names(query: str, candidate: str) -> tuple[float, str]:
    """Score two names directly (no index, no country boost)."""
    result = _score_tokens(_parse(query), _parse(candidate))
    return round(result.score, 2), result.method


def _truncate(parsed: _Parsed) -> _Parsed:
    # Scoring is quadratic in the number of parts; no real name has this many,
    # so a pasted paragraph cannot make one query expensive.
    if len(parsed.tokens) <= _MAX_QUERY_PARTS:
        return parsed
    return _Parsed(parsed.tokens[:_MAX_QUERY_PARTS], parsed.blocks[:_MAX_QUERY_PARTS])


# --------------------------------------------------------------------------- index
_IntArray = npt.NDArray[np.int32]
_EMPTY: _IntArray = np.zeros(0, dtype=np.int32)


class ScreeningIndex:
    """All names of one list version, ready for repeated matching.

    Immutable after construction and safe to share between threads.
    """

    def __init__(self, entries: Sequence[ListEntry]) -> None:
        self._entries: tuple[ListEntry, ...] = tuple(entries)
        self._entry_countries: list[frozenset[str]] = [
            frozenset(c.upper() for c in e.countries) for e in self._entries
        ]
        vocab: dict[str, int] = {}
        postings: list[list[int]] = []
        joins: dict[str, list[int]] = {}
        name_entry: list[int] = []
        name_text: list[str] = []
        parsed_names: list[_Parsed] = []
        for entry_index, entry in enumerate(self._entries):
            seen: set[_Parsed] = set()
            for text in (entry.name, *entry.alt_names):
                parsed = _parse(text)
                tokens = parsed.tokens
                if not tokens or parsed in seen:
                    continue
                seen.add(parsed)
                name_id = len(name_text)
                name_entry.append(entry_index)
                name_text.append(text)
                parsed_names.append(parsed)
                for token in set(tokens):
                    vid = vocab.setdefault(token, len(vocab))
                    if vid == len(postings):
                        postings.append([])
                    postings[vid].append(name_id)
                for a, b in zip(tokens, tokens[1:], strict=False):
                    for key in {a + b, _fold(a + b)}:
                        joins.setdefault(key, []).append(name_id)

        self._vocab: list[str] = list(vocab)
        self._vocab_ids = vocab
        self._postings: list[_IntArray] = [np.asarray(p, dtype=np.int32) for p in postings]
        self._joins: dict[str, _IntArray] = {
            k: np.unique(np.asarray(v, dtype=np.int32)) for k, v in joins.items()
        }
        by_fold: dict[str, list[int]] = {}
        by_sound: dict[str, list[int]] = {}
        for vid, token in enumerate(self._vocab):
            by_fold.setdefault(_fold(token), []).append(vid)
            if len(token) >= _PHONETIC_MIN_LENGTH:
                by_sound.setdefault(_phonetic(token), []).append(vid)
        # The prefilter compares folded spellings, so transliteration variants
        # (Zeynep/Zeinab) are as close as their folded forms are.
        self._fold_vocab: list[str] = list(by_fold)
        self._fold_ids = {f: i for i, f in enumerate(self._fold_vocab)}

        self._fold_vids: list[_IntArray] = [
            np.asarray(v, dtype=np.int32) for v in by_fold.values()
        ]
        self._by_sound = {k: np.asarray(v, dtype=np.int32) for k, v in by_sound.items()}
        self._name_entry = np.asarray(name_entry, dtype=np.int32)
        self._name_text = name_text
        self._names = parsed_names
        self._name_len = np.asarray([len(p.tokens) for p in parsed_names], dtype=np.int32)

    @property
    def size(self) -> int:
        return len(self._entries)

    @property
    def name_count(self) -> int:
        return len(self._name_text)

    # --------------------------------------------------------------- public API
    def match(
        self, name: str, countries: Collection[str] = (), *, threshold: float
    ) -> list[Match]:
        """Best match per entry scoring at least ``threshold``, best first.

        ``countries`` are the person's ISO alpha-2 codes (citizenships,
        residence, affiliation); they only ever raise a score. Names that
        share fewer than two similar parts with a list name are not scored
        at all, so thresholds below about 50 do not widen the result.
        """
        return self.match_many([(name, countries)], threshold=threshold, workers=1)[0]

    def match_many(
        self,
        queries: Sequence[tuple[str, Collection[str]]],
        *,
        threshold: float,
        workers: int = -1,
    ) -> list[list[Match]]:
        """:meth:`match` for many names at once; the prefilter runs vectorised."""
        if not 0.0 < threshold <= 100.0:
            raise ValueError("threshold must be in (0, 100]")
        prepared = [_truncate(_parse(name)) for name, _ in queries]
        similar = self._similar_vocab(
            sorted({t for p in prepared for t in p.tokens if len(t) > 1}), workers
        )
        results: list[list[Match]] = []
        cache: dict[str, _IntArray] = {}
        for parsed, (_, countries) in zip(prepared, queries, strict=True):
            wanted = frozenset(c.strip().upper() for c in countries if c.strip())
            results.append(self._match_prepared(parsed, wanted, similar, cache, threshold))
        return results

    # --------------------------------------------------------------- internals
    def _similar_vocab(self, tokens: list[str], workers: int) -> dict[str, _IntArray]:
        """Vocabulary ids whose Jaro-Winkler similarity clears the prefilter."""
        found: dict[str, _IntArray] = {}
        if not tokens or not self._fold_vocab:
            return found
        chunk = 256
        for start in range(0, len(tokens), chunk):
            block = tokens[start : start + chunk]
            # Folded spellings catch transliteration variants (Zeynep/Zeinab),
            # spellings as written catch slips that folding obscures (Kjanh).
            folded = process.cdist(
                [_fold(t) for t in block],
                self._fold_vocab,
                scorer=JaroWinkler.normalized_similarity,
                score_cutoff=_PREFILTER_JW,
                dtype=np.float32,
                workers=workers,
            )
            raw = process.cdist(
                block,
                self._vocab,
                scorer=JaroWinkler.normalized_similarity,
                score_cutoff=_PREFILTER_JW,
                dtype=np.float32,
                workers=workers,
            )
            for row, token in enumerate(block):
                hits = np.flatnonzero(folded[row]).tolist()
                parts = [self._fold_vids[h] for h in hits]
                parts.append(np.flatnonzero(raw[row]).astype(np.int32))
                found[token] = np.concatenate(parts)
        return found

    def _token_hits(self, token: str, similar: dict[str, _IntArray]) -> _IntArray:
        vids: list[_IntArray] = [similar.get(token, _EMPTY)]
        equivalent = [self._vocab_ids[t] for t in _EQUIVALENT.get(token, ())
                      if t in self._vocab_ids]
        if equivalent:
            vids.append(np.asarray(equivalent, dtype=np.int32))
        if len(token) >= _PHONETIC_MIN_LENGTH:
            sounds = self._by_sound.get(_phonetic(token))
            if sounds is not None:
                vids.append(sounds)
        ids = np.unique(np.concatenate(vids)).tolist()
        # Keep parts the scorer will accept, and shorter parts that may be
        # the first half of a joined form ("Abd" for "Abdulrahman").
        arrays = [
            self._postings[v]
            for v in ids
            if _token_similarity(token, self._vocab[v]) > 0.0
            or 2 <= len(self._vocab[v]) <= len(token) - 2
        ]
        for key in (token, _fold(token)):
            joined = self._joins.get(key)
            if joined is not None:
                arrays.append(joined)
        if not arrays:
            return _EMPTY
        return np.unique(np.concatenate(arrays))

    def _candidates(
        self,
        tokens: tuple[str, ...],
        similar: dict[str, _IntArray],
        cache: dict[str, _IntArray],
    ) -> _IntArray:
        full = [t for t in tokens if len(t) > 1]
        if not full:
            return _EMPTY
        per_position = []
        for token in full:
            found = cache.get(token)
            if found is None:
                found = cache[token] = self._token_hits(token, similar)
            per_position.append(found)
        for a, b in zip(full, full[1:], strict=False):
            # "Jong Un" or "Nur al-Din" in the query, "Jongun" or "Nureddin" on the list.
            for fold_id in {self._fold_ids.get(_fold(a + infix + b)) for infix in _JOIN_INFIXES}:
                if fold_id is not None:
                    per_position.extend(self._postings[v] for v in self._fold_vids[fold_id])
        hits = np.concatenate(per_position)
        if hits.size == 0:
            return _EMPTY
        counts = np.bincount(hits, minlength=len(self._name_text))
        if len(full) == 1:
            # One part can only match a one-part name, or two parts it joins.
            ok = (counts >= 1) & (self._name_len <= 2)
        else:
            ok = counts >= np.minimum(self._name_len, 2)
        return np.flatnonzero(ok).astype(np.int32)

    def _match_prepared(
        self,
        parsed: _Parsed,
        countries: frozenset[str],
        similar: dict[str, _IntArray],
        cache: dict[str, _IntArray],
        threshold: float,
    ) -> list[Match]:
        if not parsed.tokens:
            return []
        best: dict[int, tuple[float, str, int]] = {}
        floor = threshold - _COUNTRY_BOOST if countries else threshold
        for name_id in self._candidates(parsed.tokens, similar, cache).tolist():
            result = _score_tokens(parsed, self._names[name_id])
            if result.score < floor:
                continue
            entry_index = int(self._name_entry[name_id])
            score = result.score
            method = result.method
            if (
                countries
                and score >= _COUNTRY_BOOST_FLOOR
                and countries & self._entry_countries[entry_index]
            ):
                boosted = min(100.0, score + _COUNTRY_BOOST)
                # A shared country may lift a name into review, never into
                # automatic suspension: that must rest on the name alone.
                if score < DEFAULT_AUTO_SUSPEND_THRESHOLD:
                    boosted = min(boosted, DEFAULT_AUTO_SUSPEND_THRESHOLD - 0.01)
                score = max(score, boosted)
                method += "+country"
            if score < threshold:
                continue
            current = best.get(entry_index)
            if current is None or score > current[0]:
                best[entry_index] = (score, method, name_id)
        matches = [
            Match(
                entry_id=self._entries[entry_index].entry_id,
                matched_name=self._name_text[name_id],
                primary_name=self._entries[entry_index].name,
                source=self._entries[entry_index].source,
                score=round(score, 2),
                method=method,
            )
            for entry_index, (score, method, name_id) in best.items()
        ]
        matches.sort(key=lambda m: (-m.score, m.entry_id))
        return matches
