"""Full-text semantics of a scene's ``text``, shared by every search backend.

Analysis (what a text becomes, for documents and queries alike), modelled on
Elasticsearch's built-in ``cjk`` analyzer so both backends agree:

1. NFKC normalisation (full-width ``ＡＢＣ１２３`` becomes ``ABC123``, the ideographic
   space a space); curly quotes are read as straight ones.
2. A *run* of CJK characters (Han, kana, hangul; no space or punctuation between
   them) becomes its overlapping bigrams: ``公共交通`` gives ``公共 共交 交通``. A run of
   one character stays a unigram.
3. Other text is split into words of letters, digits and ``_``; ``.`` and ``'`` join
   the two sides of a word (``u.s.a``, ``don't``, ``3.14``) and ``,`` joins digits
   (``1,241,609``). Words are lower-cased and accents folded (``Café`` -> ``cafe``).
4. English stop words (:data:`STOP_WORDS`) are dropped.

Tokens keep their order; consecutive tokens are adjacent positions (unlike ``cjk``, a
dropped stop word leaves no gap, so ``"bus of city"`` is the phrase ``bus city``). ``交通data`` gives
``交通 data``. Indexing uses the same analysis (:func:`tokens`, :func:`index_text`).

Query syntax (:func:`parse_text`):

- words separated by spaces are AND-ed: every one must match;
- ``"a phrase"`` matches its tokens adjacent and in order (curly “…” and 「…」 too);
- ``-word`` or ``-"a phrase"`` excludes documents where it matches;
- ``a | b`` matches either; ``a | b | c`` chains; ``|`` binds the terms on each
  side of it, so ``x a | b`` is ``x AND (a OR b)``. An excluded term cannot be an
  alternative.

A term (word or phrase) matches a document when its tokens occur *adjacent and in
order* in one of the text fields (:data:`TEXT_FIELDS`); each value of a list field
(tags, themes) is separate, so a phrase never spans two tags. Hence ``交通`` matches
``北京市公共交通线路数据`` but not ``外交部`` nor ``交流与通知``, and ``公共交通`` matches only
where those four characters stand together. A one-character CJK term matches only
where that character stands alone (no CJK neighbour), as with ``cjk``. A term whose
analysis yields no token (punctuation, a stop word) is dropped from the query. A
query with no positive clause left (``""``, ``-出租``) matches every document not
excluded.

Both backends index the output of :func:`index_text` (so they share one analysis,
not two that agree "mostly") and compile each term as a phrase of its tokens:
Elasticsearch as a ``match_phrase`` on whitespace-tokenised fields, SQLite as an
FTS5 phrase. :meth:`TextQuery.matches` is the reference evaluation the parity suite
checks both against.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Document fields searched by ``text``; list fields are matched value by value.
# What a dataset is about. The publisher is who made it: it has its own filter and facet,
# and a text search for 交通 should not return every file of a 交通运输局.
TEXT_FIELDS: tuple[str, ...] = ("title", "description", "tags", "themes")

# Lucene's English stop set, which the ``cjk`` analyzer drops.
STOP_WORDS: frozenset[str] = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the "
    "their then there these they this to was will with s t www".split()
)

# Han (with extensions and compatibility ideographs), kana, hangul and the
# iteration/zero marks: the scripts ``cjk_bigram`` pairs up.
_CJK_CLASS = (
    "\u1100-\u11ff\u3005-\u3007\u3040-\u309f\u30a0-\u30ff\u3130-\u318f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff"
    "\U00020000-\U0003134f"
)
_WORD_CHAR = rf"[^\W{_CJK_CLASS}]"
_TOKEN_RE = re.compile(
    rf"(?P<cjk>[{_CJK_CLASS}]+)"
    rf"|(?P<word>{_WORD_CHAR}+(?:(?:[.']|(?<=\d),(?=\d)){_WORD_CHAR}+)*)"
)
_QUOTE_CHARS = re.compile("[“”「」『』‘’]")
_QUOTES = str.maketrans(
    {"“": '"', "”": '"', "「": '"', "」": '"', "『": '"', "』": '"', "‘": "'", "’": "'"}
)


class TextQueryError(ValueError):
    """The text cannot be read as a query (unclosed quote, dangling ``|`` …)."""


def _normalise(text: str) -> str:
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.translate(_QUOTES) if _QUOTE_CHARS.search(text) else text


def _fold(word: str) -> str:
    word = word.lower()
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str | None) -> list[str]:
    """The analysed tokens of ``text``, in order (see the module docstring)."""
    if not text:
        return []
    out: list[str] = []
    # findall + map keep this loop lean: harvests analyse every title and description.
    for run, word in _TOKEN_RE.findall(_normalise(text)):
        if run:
            if len(run) == 1:
                out.append(run)
            else:
                out.extend(map(operator.add, run[:-1], run[1:]))
            continue
        word = _fold(word)
        if word not in STOP_WORDS and word.strip("_"):
            out.append(word)
    return out


def index_text(text: str | None) -> str:
    """``text`` analysed and joined by spaces: what a backend's whitespace tokenizer indexes.

    The same string as ``" ".join(tokens(text))``, built without the token list: every
    indexed title, description and tag passes through here."""
    if not text:
        return ""
    parts: list[str] = []
    for run, word in _TOKEN_RE.findall(_normalise(text)):
        if run:
            parts.append(run if len(run) == 1 else " ".join(map(operator.add, run, run[1:])))
            continue
        word = _fold(word)
        if word not in STOP_WORDS and word.strip("_"):
            parts.append(word)
    return " ".join(parts)


@lru_cache(maxsize=65536)
def index_value(value: str) -> str:
    """:func:`index_text` of a short value that repeats across datasets (a tag, a
    theme), remembered: a catalog has a few thousand distinct ones."""
    return index_text(value)


@dataclass(frozen=True)
class Term:
    """A word or a quoted phrase; it matches where ``tokens`` occur adjacent and in order."""

    text: str
    tokens: tuple[str, ...]
    quoted: bool = False


@dataclass(frozen=True)
class Clause:
    """One AND-ed part of a query: any of ``alternatives`` matches; ``negated`` excludes."""

    alternatives: tuple[Term, ...]
    negated: bool = False


@dataclass(frozen=True)
class TextQuery:
    """A parsed ``text``: every positive clause must match, no negated one may."""

    clauses: tuple[Clause, ...] = ()

    @property
    def positive(self) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if not c.negated)

    @property
    def negative(self) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if c.negated)

    def is_empty(self) -> bool:
        """True when the text constrains nothing (every document matches)."""
        return not self.clauses

    def matches(self, document: Mapping[str, Any]) -> bool:
        """Reference evaluation against a search document (tests, parity checks)."""
        fields = [tokens(value) for value in _text_values(document)]

        def hit(clause: Clause) -> bool:
            return any(_contains(f, term.tokens) for term in clause.alternatives for f in fields)

        return all(hit(c) for c in self.positive) and not any(hit(c) for c in self.negative)


def _text_values(document: Mapping[str, Any]) -> Iterable[str]:
    for name in TEXT_FIELDS:
        value = document.get(name)
        if isinstance(value, str):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from (v for v in value if isinstance(v, str))


def _contains(haystack: list[str], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(tuple(haystack[i:i + n]) == needle for i in range(len(haystack) - n + 1))


def _lex(text: str) -> list[tuple[str, str, bool]]:
    """Split query text into (kind, text, negated) items; kind is word, phrase or pipe."""
    items: list[tuple[str, str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "|":
            items.append(("pipe", "|", False))
            i += 1
            continue
        negated = False
        if ch == "-":
            if i + 1 >= n or text[i + 1].isspace() or text[i + 1] == "|":
                i += 1  # a lone minus means nothing
                continue
            negated = True
            i += 1
        if text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise TextQueryError("unclosed quote")
            items.append(("phrase", text[i + 1:end], negated))
            i = end + 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in '|"':
            i += 1
        items.append(("word", text[start:i], negated))
    return items


def parse_text(text: str | None) -> TextQuery:
    """Parse a scene's ``text``; raises :class:`TextQueryError` on malformed syntax."""
    if not text or not text.strip():
        return TextQuery()
    normalised = _normalise(text)
    groups: list[tuple[list[Term], bool]] = []
    pending_or = False
    for kind, raw, negated in _lex(normalised):
        if kind == "pipe":
            if not groups or pending_or:
                raise TextQueryError("'|' needs a term on each side")
            if groups[-1][1]:
                raise TextQueryError("an excluded term cannot be an alternative of '|'")
            pending_or = True
            continue
        term = Term(text=raw, tokens=tuple(tokens(raw)), quoted=kind == "phrase")
        if pending_or:
            if negated:
                raise TextQueryError("an excluded term cannot be an alternative of '|'")
            groups[-1][0].append(term)
            pending_or = False
        else:
            groups.append(([term], negated))
    if pending_or:
        raise TextQueryError("'|' needs a term on each side")
    clauses = []
    for terms, negated in groups:
        # A term that analyses to nothing can match nothing; dropping it keeps
        # "a | ." equal to "a" and "交通 the" equal to "交通" on every backend.
        kept = tuple(t for t in terms if t.tokens)
        if kept:
            clauses.append(Clause(alternatives=kept, negated=negated))
    return TextQuery(clauses=tuple(clauses))
