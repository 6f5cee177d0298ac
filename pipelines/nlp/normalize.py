"""Text normalization: a display form for people and a match form for the tagger and search.

display  = Unicode clean-up (NFKC compatibility forms, Arabic presentation forms, invisible and
           bidi marks, tatweel, diacritics, Arabic-Indic/Persian digits and Arabic punctuation to
           ASCII) + repair of scraper artefacts (digits glued to words, words run together).
match    = display with the letter folding of Elasticsearch/Lucene's `arabic_normalization`
           (alef variants -> ا, ى -> ي, ة -> ه) and case folding, so the tagger, alerts and the
           search index agree on what "the same word" is. Same length as display.
offsets  = display/match index -> index in the original text.
"""
from __future__ import annotations

import re
import sys
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from .offsets import OffsetMap
from .resources import load_data, word_zipf
from .token_table import TokenTable

ARABIC_LETTERS = "\u0621-\u063a\u0641-\u064a\u0671-\u06d3"
_LETTER = f"[{ARABIC_LETTERS}]"

_INVISIBLE = "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_DIACRITICS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed"
_TATWEEL = "\u0640"
_ARABIC_PUNCT = {"\u060c": ",", "\u061b": ";", "\u061f": "?", "\u066a": "%", "\u066b": ".", "\u066c": ","}
_ALEF_FOLD = {"\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",
              "\u0649": "\u064a", "\u0629": "\u0647"}


def _ranges(spec: str) -> list[int]:
    out: list[int] = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.extend(range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            out.append(ord(spec[i]))
            i += 1
    return out


def _spans(codepoints: list[int]) -> list[tuple[int, int]]:
    """Sorted code points as (first, last) runs of consecutive ones."""
    spans: list[tuple[int, int]] = []
    for cp in codepoints:
        if spans and cp == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], cp)
        else:
            spans.append((cp, cp))
    return spans


def _build_clean_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    # NFKC of single characters: presentation forms, ligatures, full-width forms.
    for cp in range(0x00A0, 0x10000):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        nf = unicodedata.normalize("NFKC", ch)
        if nf != ch:
            table[cp] = nf
    for cp in _ranges(_INVISIBLE) + _ranges(_DIACRITICS) + _ranges(_TATWEEL):
        table[cp] = None
    for i in range(10):
        table[0x0660 + i] = str(i)
        table[0x06F0 + i] = str(i)
    for src, dst in _ARABIC_PUNCT.items():
        table[ord(src)] = dst
    # NFKC of a presentation form may itself carry diacritics (e.g. U+FC5E): strip them too.
    strip = {cp: None for cp in _ranges(_DIACRITICS) + _ranges(_TATWEEL)}
    for cp, rep in list(table.items()):
        if rep:
            table[cp] = rep.translate(strip)
            if table[cp] == "":
                table[cp] = None
    return table


_CLEAN = _build_clean_table()


def _char_class(codepoints: list[int]) -> str:
    """A regex character class matching exactly these code points, as ranges."""
    return "[" + "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "")
                         for a, b in _spans(codepoints)) + "]"


# Scanning for the few characters that change is much faster than translating every character
# (str.translate with a dict table costs a lookup per character; a regex character class is a bitmap).
_NEEDS_CLEAN = re.compile(_char_class(sorted(_CLEAN)) + "+")
_FREQUENT_ONE_TO_ONE = tuple((ch, _CLEAN[ord(ch)]) for ch in "\u060c\u061b\u061f\u00a0")
_CHANGES_LENGTH = re.compile(_char_class(sorted(cp for cp, rep in _CLEAN.items() if rep is None or len(rep) != 1)))


@dataclass(frozen=True)
class Normalized:
    original: str
    display: str
    match: str
    offsets: OffsetMap

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of display/match [start, end)."""
        return self.offsets.span(start, end)


def clean_unicode(text: str) -> tuple[str, OffsetMap]:
    """Unicode-level clean-up with an offset map back to `text`."""
    mapping = OffsetMap()
    if text.isascii():  # O(1) in CPython; every character that changes is beyond ASCII
        return text, mapping
    for src, dst in _FREQUENT_ONE_TO_ONE:  # most changes in Arabic news: str.replace is cheapest
        if src in text:
            text = text.replace(src, dst)
    parts: list[str] = []
    out_len = last = 0
    for m in _NEEDS_CLEAN.finditer(text):
        parts.append(text[last:m.start()])
        out_len += m.start() - last
        run = m.group(0)
        rep = run.translate(_CLEAN)
        if not rep:  # only deletions (diacritics, tatweel, marks): one shift for the whole run
            mapping.add(out_len, m.end() - out_len)
        elif not _CHANGES_LENGTH.search(run):
            parts.append(rep)
            out_len += len(run)
        else:
            for i in range(m.start(), m.end()):
                rep = _CLEAN.get(ord(text[i])) or ""
                for k in range(len(rep)):
                    mapping.add(out_len + k, i - (out_len + k))
                out_len += len(rep)
                parts.append(rep)
                mapping.add(out_len, i + 1 - out_len)
        last = m.end()
    if not parts:
        return text, mapping
    parts.append(text[last:])
    return "".join(parts), mapping


def fold(display: str) -> str:
    """Match form of already-clean text: letter folding + case folding, length-preserving."""
    folded = display
    for src, dst in _ALEF_FOLD.items():  # six str.replace calls beat one per-character translate
        if src in folded:
            folded = folded.replace(src, dst)
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)


@lru_cache(maxsize=65536)
def match_key(word: str) -> str:
    """Match form of a lexicon word or name (no artefact repair: lexicon entries have none)."""
    return fold(clean_unicode(word)[0]).strip()


# --- scraper artefact repair -------------------------------------------------------------

# Three kinds of contact, found in one pass over the text (each pass costs ~15 µs on a 3 KB
# article): a digit touching an Arabic letter, a word-final ة/ى touching the next word (ى+ء is an
# old spelling of final hamza, "الطوارىء", not a boundary) and sentence punctuation glued to a
# word. The pattern starts with one character class of rare characters, which lets the engine
# scan ahead fast; lookbehinds on the consumed character then tell the kinds apart.
_FINALS = "\u0629\u0649"
_PUNCT_MARKS = "?!.\u2026"
_CONTACT = re.compile(  # [0-9], not \d: a \d in a class costs a Unicode table lookup per character
    f"[0-9{_FINALS}{_PUNCT_MARKS}]"
    f"(?:(?<=[0-9])(?:(?<={_LETTER}[0-9])|(?={_LETTER}))"
    f"|(?<=[{_FINALS}])(?![\u0621{_FINALS}])(?={_LETTER})"
    f"|(?<=[{_PUNCT_MARKS}])(?=[{ARABIC_LETTERS}\u00ab]))"
)
_QUOTES = re.compile("[\u00ab\u00bb]")
_SENTENCE_PUNCT = frozenset("?!.")
_OPENING_MARKS = frozenset("(\u00ab\"'[")
# Run-together candidates: 5-30 letters. Longer runs are not two words, and bounding the length
# keeps the splitter linear on adversarial input.
_MIN_RUN, _MAX_RUN = 5, 30
_LETTER_SET = frozenset(chr(cp) for cp in _ranges(ARABIC_LETTERS))
_LETTER_RANGES = _spans(_ranges(ARABIC_LETTERS))  # (first, last) code points, for the run table
_ANY_LETTER = re.compile(_LETTER)

_LETTER_RUN_END = re.compile(f"{_LETTER}+$")
_LETTER_RUN_START = re.compile(f"^{_LETTER}*")


class _SplitRules:
    """The data of pipelines/data/splitter.yaml, prepared for lookups."""

    def __init__(self) -> None:
        data = load_data("splitter")
        self.proclitics = {match_key(w) for w in data["proclitics"]}
        self.number_suffixes = {match_key(w) for w in data["number_suffix_abbreviations"]}
        self.digit_taking = {match_key(w) for w in data["digit_taking_abbreviations"]}
        self.number_heads = {match_key(w) for w in data["number_heads"]}
        self.min_part_zipf = float(data["min_part_zipf"])
        self.min_gap = float(data["min_zipf_gap"])
        self.not_free = {match_key(w) for w in data["not_free_words"]}
        self.short_words = {match_key(w) for w in data["short_words"]}
        self.negations = {match_key(w) for w in data["negations"]}
        self.imperfect_negations = {match_key(w) for w in data["imperfect_negations"]}
        self.imperfect_starts = tuple(match_key(w) for w in data["imperfect_starts"])
        self.articles = ("ال", "وال", "بال", "فال", "كال", "لل")
        self.number_joiners = {match_key(w) for w in data["number_joiners"]}
        self.numbered_names = {match_key(w) for w in data["numbered_names"]}
        self.prefixes = tuple(sorted({match_key(w) for w in data["word_prefixes"]}, key=len, reverse=True))
        self.suffixes = tuple(sorted({match_key(w) for w in data["word_suffixes"]}, key=len, reverse=True))
        self.zipf = word_zipf("ar")


@lru_cache(maxsize=1)
def _rules() -> _SplitRules:
    return _SplitRules()


_NON_SPACE = re.compile(r"\S+")
_MAX_WORD = 40  # longest run of letters or digits looked at around a contact


_TOKEN_WINDOW = 200  # a white-space token is looked at this far around a contact (junk runs stay cheap)
_UP_TO_LAST_SPACE = re.compile(r".*\s", re.DOTALL)


def _token_around(text: str, i: int) -> tuple[int, int]:
    """[start, end) of the white-space token holding position i (within _TOKEN_WINDOW of i)."""
    lo = max(0, i - _TOKEN_WINDOW)
    before = _UP_TO_LAST_SPACE.match(text, lo, i)
    start = before.end() if before else lo
    end = _NON_SPACE.match(text, i, min(len(text), i + _TOKEN_WINDOW)).end()
    return start, end


def _quoted(text: str, start: int, end: int) -> bool:
    head, tail = text[start:start + 2], text[max(start, end - 3):end]
    return head[:1] in "\u00ab\"'(" and tail.rstrip(".,;:!?)")[-1:] in "\u00bb\"')" or "\u00ab" in head


def _digit_split(text: str, pos: int, rules: _SplitRules) -> int | None:
    """Where to insert a space at a letter/digit contact just after `pos`, or None to keep."""
    start, end = _token_around(text, pos)
    if text[pos].isdigit():  # digit -> letter: "60كلم", "1436هـ"
        letters = _LETTER_RUN_START.match(text[pos + 1:min(end, pos + 1 + _MAX_WORD)]).group(0)
        after = text[pos + 1 + len(letters):pos + 2 + len(letters)]
        if fold(letters) in rules.number_suffixes and not after.isdigit():
            return None
        if fold(letters) in rules.number_joiners and after.isdigit():
            return None  # "1ر52" (1.52 in some Gulf papers), "1و2" (1 and 2)
        if pos > 0 and text[pos - 1] in _OPENING_MARKS:
            return None  # one digit opening a bracket or quote starts a name: "(1ماليزيا", "«4جي»"
        return pos + 1
    word = _LETTER_RUN_END.search(text[max(start, pos + 1 - _MAX_WORD):pos + 1]).group(0)
    key = fold(word)
    digits = re.match(r"\d+", text[pos + 1:min(end, pos + 1 + _MAX_WORD)]).group(0)
    if key in rules.number_joiners and text[pos - len(word):pos - len(word) + 1].isdigit():
        return None  # the second number of "1ر52" (1.52) or "1و2" (1 and 2)
    if key in rules.proclitics or _strip_proclitic(key, rules) in rules.numbered_names or key in rules.numbered_names:
        return None
    if key in rules.digit_taking and len(digits) == 1:
        return None
    if len(digits) == 1:
        if key in rules.number_heads or _strip_proclitic(key, rules) in rules.number_heads:
            return pos + 1
        return None
    if _quoted(text, start, end):
        return None
    return pos + 1


def _strip_proclitic(key: str, rules: _SplitRules) -> str:
    for n in (3, 2, 1):
        if len(key) > n + 2 and key[:n] in rules.proclitics:
            return key[n:]
    return key


def _known_inflection(key: str, rules: _SplitRules) -> bool:
    """True when the word is a frequent word plus clitics/suffixes ("دربتهم", "المتأهب", "جولاني")."""
    for stem in _affix_variants(key, rules):
        if rules.zipf.get(stem, 0.0) >= rules.min_part_zipf:
            return True
    return False


def _affix_variants(key: str, rules: _SplitRules) -> list[str]:
    out = []
    for pre in ("",) + rules.prefixes:
        if pre and not key.startswith(pre):
            continue
        body = key[len(pre):]
        for suf in ("",) + rules.suffixes:
            if suf and not body.endswith(suf):
                continue
            stem = body[: len(body) - len(suf)]
            if len(stem) >= 3 and (pre or suf):
                out.append(stem)
    return out


def _plausible_boundary(left: str, right: str, rules: _SplitRules) -> bool:
    """Shapes of two words run together that transliterated names rarely have (precision first).

    A bare "both halves are frequent words" test splits many foreign names ("بيرو|فيا"), so a
    split also needs one of: a definite noun on the left, a definite noun or "و"+word on the right,
    a negation particle on the left, or two long frequent words.
    """
    z_left, z_right = rules.zipf.get(left, 0.0), rules.zipf.get(right, 0.0)
    if min(z_left, z_right) < rules.min_part_zipf:
        return False
    if left in rules.short_words:
        if left in rules.imperfect_negations and not right.startswith(rules.imperfect_starts):
            return False  # لا/لم/لن negate a verb: "لا|مركزية", "لا|كورونا" are one word or a name
        return len(right) >= 4 and left in rules.negations
    if len(left) < 3 or (len(right) < 3 and right not in rules.short_words):
        return False
    definite_left = any(left.startswith(a) and len(left) - len(a) >= 3 for a in rules.articles)
    definite_right = right.startswith("ال") and len(right) >= 5
    if definite_left or definite_right:
        return len(right) >= 4 or z_right >= 4.3 or right in rules.short_words
    if right.startswith("و") and len(right) >= 5 and (len(left) >= 4 or z_left >= 4.5):
        return True
    return len(left) >= 4 and len(right) >= 4 and min(z_left, z_right) >= 4.0


def _written_as_one(key: str, rules: _SplitRules) -> bool:
    """The web writes this form (or it after a proclitic) as one word often enough for the
    frequency list to hold it: names and loanwords ("بلاكستون", "الحقباني", "والبلاديوم")."""
    return any(key[len(pre):] in rules.zipf for pre in ("",) + rules.prefixes
               if key.startswith(pre) and len(key) - len(pre) >= _MIN_RUN)


def _definite_nisba(word: str) -> bool:
    """"ال…ي" is a family name or an adjective of origin ("الزنايدي", "الليبيري"), one word."""
    return word.startswith("\u0627\u0644") and word.endswith("\u064a")


def _best_word_split(word: str, rules: _SplitRules) -> int | None:
    """Index splitting a run-together word into two frequent words, or None (precision first)."""
    key = fold(word)
    own = rules.zipf.get(key, 0.0)
    if own >= rules.min_part_zipf or _known_inflection(key, rules):
        return None
    # A glued negation is a common misspelling ("لايسمح"); any other form written as one word
    # often enough to be listed is a name or loanword, and so is a definite nisba.
    known_whole = _written_as_one(key, rules)
    best, best_score = None, 0.0
    for i in range(1, len(key)):
        left, right = key[:i], key[i:]
        if left in rules.not_free or right in rules.not_free or left in rules.proclitics:
            continue
        # folding hides hamza: "لإحالتهم" is not "لا"+"حالتهم"; a bare alef rarely starts a word
        # other than the article ("الغزواني" is not "الغزو"+"اني")
        if word[:i] != left and left in rules.short_words:
            continue
        if word[i] == "\u0627" and not right.startswith("ال"):
            continue
        if left not in rules.negations and (known_whole or _definite_nisba(word) and not right.startswith("ال")
                                             and right not in rules.short_words):
            continue
        if not _plausible_boundary(left, right, rules):
            continue
        score = min(rules.zipf.get(left, 0.0), rules.zipf.get(right, 0.0))
        if score > best_score:
            best, best_score = i, score
    if best is None or best_score - own < rules.min_gap:
        return None
    return best


_SPLIT_AT: dict[str, int] = {}  # runs known to split, and where (the run table marks them)
_CACHE_LIMIT = 300_000


def _learn_run(run: str) -> bool:
    """Whether a run of letters is two words run together (the split point is kept)."""
    if len(run) > _MAX_RUN:
        return False  # too long to be two words
    at = _best_word_split(run, _rules())
    if at is None:
        return False
    if len(_SPLIT_AT) >= _CACHE_LIMIT:
        _SPLIT_AT.clear()
    _SPLIT_AT[run] = at
    return True


def _split_at(run: str) -> int:
    """Where a run the table marked splits (worked out again if forgotten since)."""
    at = _SPLIT_AT.get(run)
    if at is None:
        at = _SPLIT_AT[run] = _best_word_split(run, _rules())
    return at


@lru_cache(maxsize=1)
def _run_table() -> TokenTable:
    """Every run of 5+ letters seen, and whether it splits: most words of an article were seen
    before, so an article's runs cost one pass and the new ones a look each."""
    return TokenTable(_learn_run, _CACHE_LIMIT, letters=_LETTER_RANGES, min_length=_MIN_RUN)


def _has_point_inside(sorted_points: list[int], start: int, end: int) -> bool:
    k = bisect_right(sorted_points, start)
    return k < len(sorted_points) and sorted_points[k] < end


def _letter_at(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i] in _LETTER_SET


def _scan_contacts(text: str) -> tuple[list[int], list[int], list[int]]:
    """Letter/digit contacts (p: between p and p + 1, the `pos` of _digit_split), word-final
    letters touching a word (split points) and punctuation marks glued before a word."""
    digits, finals, marks = [], [], []
    for m in _CONTACT.finditer(text):
        at = m.start()
        ch = text[at]
        if ch in _FINALS:
            finals.append(at + 1)
        elif ch in _PUNCT_MARKS:
            marks.append(at)
        else:
            if _letter_at(text, at - 1):
                digits.append(at - 1)  # letter, then this digit
            if _letter_at(text, at + 1):
                digits.append(at)      # this digit, then a letter
    return digits, finals, marks


def _punct_repairs(text: str, marks: list[int], rules: _SplitRules) -> list[int]:
    """Spaces missing after sentence punctuation, before "«" and after "»" between Arabic words."""
    found = []
    for start in marks:
        at = start + 1
        if text[start] != "\u2026":
            while start > 0 and text[start - 1] in _SENTENCE_PUNCT:
                start -= 1
        if not _letter_at(text, start - 1):
            continue
        run = _LETTER_RUN_END.search(text[max(0, start - 8):start]).group(0)
        if text[start:at] == "." and (len(run) < 3 or len(_LETTER_RUN_START.match(text[at:at + 3]).group(0)) < 3):
            continue  # abbreviations: "ق.م", "د.أحمد", "سي.إن.إن"
        if text[at:at + 1] == "\u00ab" and fold(run) in rules.proclitics:
            continue  # "و«الريك1»": a conjunction before a quoted name
        found.append(at)
    if "\u00ab" not in text and "\u00bb" not in text:
        return found  # most texts have no guillemets: str's own search is far faster than a regex
    for m in _QUOTES.finditer(text):
        at = m.start()
        if m.group(0) == "\u00bb":
            before = _LETTER_RUN_END.search(text[max(0, at - 8):at])
            if before and fold(before.group(0)) in rules.proclitics:
                continue  # "ب»الربيع»": a clitic, then » used as the opening quote
            if _letter_at(text, at + 1):
                found.append(at + 1)
        elif _letter_at(text, at - 1):
            run = _LETTER_RUN_END.search(text[max(0, at - 8):at]).group(0)
            if fold(run) not in rules.proclitics:
                found.append(at)
    return found


def find_repairs(text: str) -> list[int]:
    """Positions in clean text before which a space must be inserted."""
    if text.isascii() or not _ANY_LETTER.search(text):
        return []  # every repair has an Arabic letter on one side: English text is left as it is
    rules = _rules()
    points: set[int] = set()
    digits, finals, marks = _scan_contacts(text)
    for pos in digits:
        at = _digit_split(text, pos, rules)
        if at is not None:
            points.add(at)
    points.update(_punct_repairs(text, marks, rules))
    points.update(finals)
    runs = _run_table().find(text)  # the runs that split -> where they are
    if runs:
        split_before = sorted(points)
        for run, starts in runs.items():
            at = _split_at(run)
            for start in starts:
                if not _has_point_inside(split_before, start, start + len(run)):
                    points.add(start + at)
    return sorted(points)


def _insert_spaces(text: str, points: list[int]) -> tuple[str, OffsetMap]:
    mapping = OffsetMap()
    parts: list[str] = []
    last = 0
    for k, p in enumerate(points):
        parts.append(text[last:p])
        parts.append(" ")
        mapping.add(p + k + 1, -(k + 1))
        last = p
    parts.append(text[last:])
    return "".join(parts), mapping


def normalize(text: str, repair: bool = True) -> Normalized:
    clean, clean_map = clean_unicode(text)
    if repair:
        display, repair_map = _insert_spaces(clean, find_repairs(clean))
        offsets = repair_map.compose(clean_map)
    else:
        display, offsets = clean, clean_map
    return Normalized(original=text, display=display, match=fold(display), offsets=offsets)


def warm_up() -> None:
    """Load the splitter's lexicons now (Beam DoFn.setup), not on the first article."""
    _rules()


if __name__ == "__main__":  # pragma: no cover - handy for quick checks
    print(normalize(sys.stdin.read()).display)
