"""Event tagging: offensive, ceasefire and troop build-up, with actors, places and quantities.

Rules, not a model: every event names the trigger rule that fired (`rule`), the words it
matched and their offsets in the original text, so an analyst can see why. The rules live in
pipelines/data/*.yaml; this module only matches them.

Per sentence: find trigger patterns (affix-aware for Arabic, inflection-aware for English),
drop those whose sentence lacks the military context a rule asks for, drop offensives that are
negated, hypothetical, feared or only purposed (modality cues in a small window), then attach
the actors and places of the trigger's clause (arguments.py) and the quantities near it. One
event per trigger: only true repeats are merged.
"""
from __future__ import annotations

import gc
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from . import arguments as args
from .arguments import Found, Roleplay, SentenceNames
from .geo import clitic_hides_a_word, gazetteer, has_namesakes
from .language import detect_language, detect_paragraphs
from .lexicon import Lexicon, Name, Trigger, lexicon
from .normalize import Normalized, normalize
from .normalize import warm_up as warm_up_normalizer
from .offsets import OffsetMap
from .sentence_picker import sentence_pickers
from .tokens import MAX_WORD, Sentence, name_stems, sentence_bounds, stems

EVENT_TYPES = ("offensive", "ceasefire", "troop_buildup")
QUANTITY_TOKENS = 10  # quantities this close
CONTEXT_CHARS = 1_200  # the opening of an article read for its country context
MAX_TEXT = 1_000_000  # characters tagged per item; the rest is ignored (and said so)
_CLAUSE_PUNCT = frozenset(".,;:!?()\"«»")
_NUMBER = re.compile(r"^\d[\d.,]*$")
_DIGIT_START = frozenset("0123456789")
_ARABIC = re.compile("[\u0621-\u064a]")
# A dateline opens an article: "BEIRUT —", "BEIRUT, Lebanon (AP) —", "Kabul (Reuters) -",
# "دمشق - «...»:". It says where the story was filed, not where the event happened or who acted.
_DATELINE = re.compile(
    r"\s*(?:[A-Z][A-Z'.\-]+(?:[ ,]+[A-Z][A-Za-z'.\-]+){0,3}\s*(?:\([^)\n]{1,30}\)\s*)?"
    r"|[A-Z][a-z]+(?:,? [A-Z][a-z]+){0,2}\s*\([^)\n]{1,30}\)\s*"
    r"|[\u0621-\u064a]+(?:[ ،,]+[\u0621-\u064a]+){0,2}\s*(?:\([^)\n]{1,30}\)\s*)?)"
    r"[\u2014\u2013-]{1,2}\s")
_LATIN = re.compile("[a-z]")


@dataclass
class Mention:
    text: str
    start: int
    end: int
    canonical: str
    kind: str
    country: str | None = None
    lat: float | None = None
    lon: float | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Quantity:
    value: float
    unit: str
    text: str
    start: int
    end: int

    def as_dict(self) -> dict:
        value = int(self.value) if float(self.value).is_integer() else self.value
        return {"value": value, "unit": self.unit, "text": self.text, "start": self.start, "end": self.end}


@dataclass
class Event:
    type: str
    subtype: str
    sentence: int
    trigger: dict
    rule: str
    confidence: float
    actors: list[Mention] = field(default_factory=list)
    locations: list[Mention] = field(default_factory=list)
    quantities: list[Quantity] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    # what the article pass still settles (the country, "the army", ambiguous places); not output
    pending: _Pending | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        return {
            "type": self.type, "subtype": self.subtype, "sentence": self.sentence,
            "trigger": self.trigger, "rule": self.rule, "rules": self.rules or [self.rule],
            "confidence": round(self.confidence, 3),
            "actors": [a.as_dict() for a in self.actors],
            "locations": [p.as_dict() for p in self.locations],
            "quantities": [q.as_dict() for q in self.quantities],
        }


@dataclass
class TagResult:
    language: str
    language_confidence: float
    events: list[Event]
    match_text: str     # sentences are found in the match form only when asked (most articles
    offsets: OffsetMap  # have no event, and nobody asks), then mapped back to the original
    truncated: bool = False
    paragraphs: list[dict] = field(default_factory=list)
    bounds: list[tuple[int, int]] | None = field(default=None, repr=False)

    @property
    def labels(self) -> set[str]:
        return {e.type for e in self.events}

    @property
    def sentences(self) -> list[dict]:
        """Each sentence's span in the original text and the event types found in it."""
        labels: dict[int, set[str]] = {}
        for e in self.events:
            labels.setdefault(e.sentence, set()).add(e.type)
        if self.bounds is None:
            self.bounds = sentence_bounds(self.match_text)
        out = []
        for index, (start, end) in enumerate(self.bounds):
            o_start, o_end = self.offsets.span(start, end)
            out.append({"index": index, "start": o_start, "end": o_end, "labels": sorted(labels.get(index, ()))})
        return out

    def as_dict(self) -> dict:
        return {"language": self.language, "language_confidence": self.language_confidence,
                "paragraphs": self.paragraphs, "labels": sorted(self.labels), "truncated": self.truncated,
                "sentences": self.sentences, "events": [e.as_dict() for e in self.events]}


# --- token analysis, cached per surface form ------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Analysis:
    stems: frozenset[str]
    triggers: tuple[Trigger, ...]
    actors: tuple[Name, ...]
    places: tuple[Name, ...]
    military: bool
    cues: frozenset[str]
    adjective: str | None = None  # the country of a nationality adjective ("السورية", "Syrian")


_ANALYSIS: dict[str, dict[str, _Analysis]] = {"ar": {}, "en": {}}  # language -> word -> analysis
# Every word whose analysis is military, filled by _analyse. A sentence's words are all analysed
# before this set is asked about them, so "no word of the sentence is in it" is exact.
_MILITARY_WORDS: dict[str, set[str]] = {"ar": set(), "en": set()}
_NOTHING = _Analysis(frozenset(), (), (), (), False, frozenset())


def _analyse(word: str, lang: str, lex: Lexicon) -> _Analysis:
    cache = _ANALYSIS.setdefault(lang, {})
    found = cache.get(word)
    if found is not None:
        return found
    if len(word) > MAX_WORD:
        return _NOTHING  # no lexicon word is this long; junk runs stay cheap
    st = stems(word) if lang == "ar" else stems(word) | {word}
    trig_table = lex.triggers_by_first.get(lang, {})
    places = gazetteer()
    # Sorted so that results never depend on set order (which changes with each process's hash
    # seed): the trigger kept by a merge and the first place, part of an event's id, must be stable.
    triggers = tuple(sorted({t.id: t for s in st for t in trig_table.get(s, ())}.values(), key=lambda t: t.id))
    name_st = name_stems(word) if lang == "ar" else st
    actors = tuple(sorted((n for s in name_st for n in lex.actors_by_first.get(s, ())),
                          key=lambda n: (-len(n.words), n.canonical, n.words)))
    place_names = tuple(sorted((n for s in name_st for n in places.get(s, ()) if not clitic_hides_a_word(word, s, n)),
                               key=lambda n: (-len(n.words), not n.curated, -n.population, n.canonical, n.words,
                                              n.country or "")))
    # An English verb form is military only when listed itself ("armed"): its stem would make "forced" so.
    verb_form = lang == "en" and word.endswith(("ed", "ing"))
    military = (bool(({word} if verb_form else st) & lex.military.get(lang, frozenset()))
                and word not in lex.not_military.get(lang, frozenset()))
    groups = lex.modality.get(lang, {})
    # Arabic cues may carry clitics ("والمخاوف"); English cues must match the word itself.
    probe = st if lang == "ar" else {word}
    cues = frozenset(g for g, words in groups.items() if probe & words)
    adjective = lex.roles.adjectives.get(lang, {}).get(word)
    found = _Analysis(st, triggers, actors, place_names, military, cues, adjective)
    if military:
        _MILITARY_WORDS.setdefault(lang, set()).add(word)
    if len(cache) > 300_000:
        cache.clear()
    cache[word] = found
    return found


_MARKS: dict[str, dict[str, int]] = {"ar": {}, "en": {}}  # language -> word -> arguments.word_marks


def _marks_of(words: list[str], lang: str, lex: Lexicon) -> list[int]:
    """The argument-role marks of a sentence's words, remembered per word: asked only for the
    sentences that hold an event, so most words of a stream never need them."""
    cache = _MARKS.setdefault(lang, {})
    out = []
    for word in words:
        m = cache.get(word)
        if m is None:
            if len(cache) > 300_000:
                cache.clear()
            m = cache[word] = args.word_marks(word, lang, lex)
        out.append(m)
    return out


# --- matching ---------------------------------------------------------------------------------

def _slot_matches(word: str, slot: frozenset[str]) -> bool:
    return word in slot or not stems(word).isdisjoint(slot)


def _match_trigger(trig: Trigger, words: list[str], i: int) -> int | None:
    """Index of the last word of the pattern starting at i, or None."""
    pos = i
    for slot in trig.slots[1:]:
        nxt = None
        for j in range(pos + 1, min(pos + 2 + trig.gap, len(words))):
            if _slot_matches(words[j], slot):
                nxt = j
                break
            if words[j] in _CLAUSE_PUNCT:
                break  # a pattern never spans a clause boundary
        if nxt is None:
            return None
        pos = nxt
    return pos


_GROUND = frozenset({"ground_attack", "clash"})
TARGET_WINDOW = 4  # words after a pattern in which its target or object is looked for


def _first_after(words: list[str], last: int, wanted: frozenset[str]) -> int | None:
    """Index of the first word of `wanted` that follows the pattern closely, in the same clause."""
    for j in range(last + 1, min(last + 1 + TARGET_WINDOW, len(words))):
        if words[j] in _CLAUSE_PUNCT:
            return None
        if not stems(words[j]).isdisjoint(wanted):
            return j
    return None


def _followed_by(words: list[str], last: int, wanted: frozenset[str]) -> bool:
    """Whether a word of `wanted` follows the pattern closely, in the same clause."""
    return _first_after(words, last, wanted) is not None


def _names_any(words: list[str], wanted: frozenset[str]) -> bool:
    return any(not stems(w).isdisjoint(wanted) for w in words)


def _civilian_target_after(words: list[str], last: int, lang: str, lex: Lexicon) -> bool:
    """Whether a civilian target follows the pattern closely, in its clause, and is not an armed
    one's ("حافلة للشرطة", "a police bus": the qualifier after it in Arabic, before it in English)."""
    j = _first_after(words, last, lex.civilian_targets.get(lang, frozenset()))
    if j is None:
        return False
    armed = lex.armed_targets.get(lang, frozenset())
    near = (j + 1, j + 2) if lang == "ar" else (j - 1,)  # "حافلة للشرطة", "حافلة تقل جنودا"; "a police bus"
    return not any(last < k < len(words) and not stems(words[k]).isdisjoint(armed) for k in near)


def _not_against_armed_foes(words: list[str], last: int, lang: str, lex: Lexicon) -> bool:
    """A ground attack or clash "on homes/civilians/a market" (right after it), or in a sentence
    about protesters or rioters, is not an offensive (guidelines); strikes from afar still are,
    so a sentence naming aircraft, artillery or missiles keeps its attack. The whole sentence,
    not the clause: "protested ..., clashing with security forces" is one event."""
    if not (_civilian_target_after(words, last, lang, lex)
            or _names_any(words, lex.protest_words.get(lang, frozenset()))):
        return False
    return not _names_any(words, lex.strike_means.get(lang, frozenset()))


_TARGET_STOPS = frozenset(".,;:!?()")
TARGET_BEFORE = 2   # words before a bombing that may name what it hit ("police vehicle targeted by")
TARGET_AFTER = 10   # words after it ("a car bomb at the entrance of a police station")


def _target_words(words: list[str], first: int, last: int, lex: Lexicon) -> list[str]:
    """The words that may name what a bombing or a passive attack hit: the two before it, the
    pattern itself and its clause after it, up to the agent ("... by", "نفذه") or the words of a
    report ("police said"). Who is hit decides, not who did it or who tells: the agent and the
    source are armed people too, so neither may count as the target."""
    end = last + 1
    stops = lex.target_stops
    while end < min(len(words), last + 1 + TARGET_AFTER) and words[end] not in _TARGET_STOPS \
            and words[end] not in stops:
        end += 1
    start = first
    while start > max(0, first - TARGET_BEFORE) and words[start - 1] not in _TARGET_STOPS \
            and words[start - 1] not in stops:
        start -= 1
    if first > 0 and words[first - 1] in lex.cause_markers:
        start = _victims_start(words, first - 1, stops)
    return words[start:end]


VICTIMS_BEFORE = 24  # words before "in"/"في" a bombing where its victims may be named


def _victims_start(words: list[str], marker: int, stops: frozenset[str]) -> int:
    """Where the victims of a bombing named as a cause may start: "قتل تسعة جنود من القوات
    الموالية للرئيس، الجمعة، في هجوم بسيارة مفخخة" names who was hit before "في". Back over commas
    (a day, a title), to the sentence's start, a full stop or the words of a report."""
    start = marker
    while start > max(0, marker - VICTIMS_BEFORE) and words[start - 1] not in _SENTENCE_STOPS \
            and words[start - 1] not in stops:
        start -= 1
    return start


_SENTENCE_STOPS = frozenset(".;!?")


_MOVEMENT = frozenset({"reinforcement", "massing", "mobilization"})  # what moves; not recruiting, arming or an alert
MOVEMENT_BEFORE = 3  # words before a build-up pattern where what moves may be named ("aid convoys")
MOVEMENT_AFTER = 6   # and after it ("a convoy of 75 buses")


def _civilian_movement(words: list[str], first: int, last: int, lang: str, lex: Lexicon) -> bool:
    """Whether what a build-up trigger moves is aid, evacuees or civilians, in its clause: a
    humanitarian convoy or buses of evacuees are no forces readied for a fight. Armour or troops
    named with them make it a military column that happens to carry medics or aid."""
    start = first
    while start > max(0, first - MOVEMENT_BEFORE) and words[start - 1] not in _CLAUSE_PUNCT:
        start -= 1
    end = last + 1
    while end < min(len(words), last + 1 + MOVEMENT_AFTER) and words[end] not in _CLAUSE_PUNCT:
        end += 1
    window = words[start:end]
    return (_names_any(window, lex.civilian_movement.get(lang, frozenset()))
            and not _names_any(window, lex.armed_movement.get(lang, frozenset())))


def _frame_missing(trig: Trigger, words: list[str], first: int, last: int, lang: str, lex: Lexicon) -> bool:
    """Whether the clause lacks what the trigger's frame needs: an armed target for a bombing or
    a shooting (who is hit decides: a soldier, a patrol, a police post, a commander), and real
    force for a capture or an advance (ground taken after the other side withdrew, or by a
    hand-over, is no offensive), and arming is none when weapons are handed in (disarmament)."""
    if "armed_target" in trig.frame and not _names_any(_target_words(words, first, last, lex),
                                                       lex.armed_targets.get(lang, frozenset())):
        return True
    if "takes_ground" in trig.frame:
        if _phrase_anywhere(words, lex.peaceful_takeover.get(lang, ())):
            return True
    if "not_disarmament" in trig.frame and _phrase_anywhere(words, lex.disarmament.get(lang, ())):
        # the whole sentence: a surrender deal often names its weapons in a clause of its own
        # ("agreed to hand over heavy weapons in the towns that the surrender deal covers")
        return True  # weapons handed in (a surrender, a settlement): disarmament is no build-up
    return False


def _refused_by_frame(candidates: list, words: list[str], lang: str, lex: Lexicon) -> list[tuple[str, int, int]]:
    """(type, first, last) of the candidates whose armed-target frame is missing. That frame is
    the specific reading of its words: "هجوم انتحاري" on a market is a bombing of civilians, so the
    bare "هجوم" inside it must not report the offensive the bombing frame refused."""
    return [(trig.type, i, last) for trig, i, last in candidates
            if "armed_target" in trig.frame and _frame_missing(trig, words, i, last, lang, lex)]


def _inside_refused(trig: Trigger, i: int, last: int, refused: list[tuple[str, int, int]]) -> bool:
    """Whether a shorter candidate of the same type lies within a candidate its frame refused."""
    return any(kind == trig.type and a <= i and last <= b and b - a > last - i for kind, a, b in refused)


def _phrase_anywhere(words: list[str], phrases: tuple[tuple[str, ...], ...]) -> bool:
    """Whether one of the phrases occurs in words. Each word's stems are read once, and a phrase
    is tried only where its first word is (this ran for every phrase at every position)."""
    for i, word in enumerate(words):
        forms = None
        for phrase in phrases:
            head = phrase[0]
            if head != word:
                if forms is None:
                    forms = stems(word)
                if head not in forms:
                    continue
            if _phrase_at(words, i, phrase):
                return True
    return False


TOWARDS_REACH = 14  # words after a sending verb in which its forces and their destination are looked for


def _forces_towards(words: list[str], analyses: list[_Analysis], last: int, lang: str, lex: Lexicon) -> bool:
    """A build-up frame over a clause or two: after the verb, forces (troops, units, their
    vehicles; an armed actor there is more often the one who sends), then a movement towards a place, a border, a front or
    positions ("... قوات عسكرية وآليات إلى نقاط المراقبة", "sent troops to the border")."""
    moving = lex.roles.moving_forces.get(lang, frozenset())
    end = min(len(words), last + 1 + TOWARDS_REACH)
    forces = next((j for j in range(last + 1, end) if not analyses[j].stems.isdisjoint(moving)), None)
    if forces is None:
        return False
    goals = lex.roles.towards.get(lang, frozenset())
    positions = lex.roles.positions.get(lang, frozenset())

    def somewhere(k: int) -> bool:
        if k >= len(words):
            return False
        a = analyses[k]
        return bool(a.places or _marks_of([words[k]], lang, lex)[0] & (args.HEAD | args.BORDER)
                    or not a.stems.isdisjoint(positions))

    for j in range(forces + 1, end - 1):
        if words[j] in CLAUSE_END:
            return False
        if words[j] in goals or args._body(words[j]) in goals:
            return somewhere(j + 1) or (words[j + 1] in ("the", "its", "their") and somewhere(j + 2))
    return False


CLAUSE_END = frozenset(".;!?")


def _no_forces(words: list[str], marks: list[int], first: int, last: int, actors: list[Found], lang: str,
               lex: Lexicon) -> bool:
    """Whether a build-up's clause names no forces: no armed or state actor and no military word other
    than police and security ones (a state of alert for a storm, "mobilizing" voters, police sent
    to guard a celebration are no build-up of forces for a fight)."""
    lo, hi = args.clause(marks, first, last, args.EMPTY_NAMES)
    return _clause_without_forces(words, lo, hi, actors, lang, lex)


def _clause_without_forces(words: list[str], lo: int, hi: int, actors: list[Found], lang: str, lex: Lexicon) -> bool:
    if any(lo <= a and b <= hi and n.kind in ("armed", "state") for a, b, n in actors):
        return False
    military = _MILITARY_WORDS[lang]
    security = lex.security_forces.get(lang, frozenset())
    return not any(w in military and w not in security and not _security_qualified(words, k, lang, security)
                   for k, w in enumerate(words[lo:hi + 1], lo))


def _policing(words: list[str], marks: list[int], first: int, last: int, lang: str, lex: Lexicon) -> bool:
    """Whether a build-up's clause names protesters or crime: forces sent against them are policing
    at home, not readied for a fight (guidelines). Known cost: fighters "funded by drug trafficking"
    lose their build-up (arming, where that is likelier, is left out by the caller). Armed foes named
    beside the crime ("to stop militants and smugglers crossing") make it forces readied for a fight."""
    lo, hi = args.clause(marks, first, last, args.EMPTY_NAMES)
    if _names_any(words[lo:hi + 1], lex.armed_foes.get(lang, frozenset())):
        return False
    return _names_any(words[lo:hi + 1], lex.protest_words.get(lang, frozenset())
                      | lex.policing_targets.get(lang, frozenset()))


def _security_only(words: list[str], marks: list[int], first: int, last: int, actors: list[Found], lang: str,
                   lex: Lexicon) -> bool:
    """Whether the forces a build-up moves are police or security only: its clause names police or
    security ("قوات الشرطة", "security forces") and no other force and no armed or state actor.
    Police sent to a city or security reinforcements at home are no build-up (guidelines)."""
    lo, hi = args.clause(marks, first, last, args.EMPTY_NAMES)
    security = lex.security_forces.get(lang, frozenset())
    if not any(w in security for w in words[lo:hi + 1]):
        return False
    return _clause_without_forces(words, lo, hi, actors, lang, lex)


_LINKS = frozenset({"على", "علي", "ل", "on", "of", "for"})  # "الحظر على إرسال", "a ban on sending"


def _after_generic_head(words: list[str], first: int, lang: str, lex: Lexicon) -> bool:
    """Whether a build-up word follows a noun of a kind, a practice or a policy (context.yaml
    generic_heads), right before it or before a preposition: it names a kind of act ("weapons
    transfers", "an embargo on sending arms"), not one that happened."""
    heads = lex.generic_heads.get(lang, frozenset())
    j = first - 1
    if j >= 0 and words[j] in _LINKS:
        j -= 1
    return j >= 0 and _slot_matches(words[j], heads)


_DEFINITE_AR = re.compile("^[وف]?(?:[بلك]?ال|لل)")


def _practice(words: list[str], marks: list[int], first: int, last: int, actors: list[Found], lang: str,
              lex: Lexicon) -> bool:
    """Whether an Arabic verbal noun names a practice, not an act: it is definite ("التجنيد",
    "للتجنيد"), no forces or number follow it as its object ("التجنيد الإرهابي", "الحشد والتجنيد
    والتمويل"), and no named armed or state actor before it in its clause does it ("واصلت ميليشيا
    الحوثي التجنيد" is an act; a bare "الجيش" names no one and stays a practice). Generic statements earn no event (guidelines)."""
    if lang != "ar" or first != last or not _DEFINITE_AR.match(words[first]):
        return False
    nxt = first + 1
    if nxt < len(words) and (_NUMBER.match(words[nxt])
                             or _slot_matches(words[nxt], lex.roles.moving_forces.get(lang, frozenset()))):
        return False
    lo, _ = args.clause(marks, first, last, args.EMPTY_NAMES)
    return not any(lo <= a and b < first and n.kind in ("armed", "state") for a, b, n in actors)


STRUCK_BEFORE = 4  # words before a build-up word in which a strike on it is looked for
_COORDINATORS = frozenset({"and", "or"})  # an English build-up word right after one shares the strike of the conjunct before
STRUCK_AFTER = 6   # and words after it, for a passive strike ("the convoy ... was attacked")
_PARTICIPLE = re.compile(r"(?:ed|hit|struck)$")  # "was attacked", "were hit"; not "was attacking"


def _struck(words: list[str], marks: list[int], first: int, last: int, lang: str, lex: Lexicon) -> bool:
    """Whether a build-up word is what a strike hit: a word of hitting (context.yaml strikes_on)
    stands shortly before it in its clause ("targeted gatherings of fighters", "دمرت تعزيزاتهم"),
    or follows it in the passive ("the convoy was attacked", "gatherings ... were hit").
    Strikes on the other side's reinforcements are an offensive only (guidelines)."""
    lo, hi = args.clause(marks, first, last, args.EMPTY_NAMES)
    hits = lex.strikes_on.get(lang, frozenset())
    start = max(lo, first - STRUCK_BEFORE)
    if first > 0 and words[first - 1] in _COORDINATORS:
        start = max(lo, start - STRUCK_BEFORE)  # "targeted their gatherings and concentration centres": one strike, both hit
    before = range(start, first)
    # a past verb ("the coalition amassed troops") has its own subject: what stands before it did not hit it
    if not (lang == "en" and words[first].endswith("ed")) and any(_slot_matches(words[j], hits) for j in before):
        return True
    passive = lex.passive_aux.get(lang, frozenset())
    return any(words[j] in passive and _PARTICIPLE.search(words[j + 1]) and _slot_matches(words[j + 1], hits)
               for j in range(last + 1, min(hi, last + STRUCK_AFTER)))


def _security_qualified(words: list[str], k: int, lang: str, security: frozenset[str]) -> bool:
    """Whether a force word is qualified as police or security: "قوات الأمن", "تعزيزات أمنية",
    "عناصر الشرطة" (the qualifier after it), "security forces", "police units" (before it).
    Who is sent decides: police and security forces at home are no build-up for a fight."""
    near = k + 1 if lang == "ar" else k - 1
    return 0 <= near < len(words) and _slot_matches(words[near], security)


def _phrase_at(words: list[str], i: int, phrase: tuple[str, ...]) -> bool:
    if i < 0 or i + len(phrase) > len(words):
        return False
    return all(words[i + k] == w or w in stems(words[i + k]) for k, w in enumerate(phrase))


def _suppressed(trig: Trigger, words: list[str], first: int, last: int) -> bool:
    """A suppressing phrase right after the trigger word or after the whole pattern, or right before it."""
    after = {first + 1, last + 1}
    if any(_phrase_at(words, at, p) for p in trig.suppress_next for at in after):
        return True
    return any(_phrase_at(words, first - len(p), p) for p in trig.suppress_prev)


def _parenthetical_time_before(words: list[str], j: int, lex: Lexicon) -> int:
    """How many words, ending at words[j], set a time word off by commas (", الثلاثاء ,": 3,
    ", on Monday ,": 4), or 0: such a date does not end the clause a cue is looked for in."""
    if words[j] != "," or j < 2 or words[j - 1] not in lex.parenthetical_times:
        return 0
    if words[j - 2] == ",":
        return 3
    return 4 if j >= 3 and words[j - 2] == "on" and words[j - 3] == "," else 0


HISTORIC_WINDOW = 8  # words each side of a trigger, within its clause, where a past year is looked for


def _dated_long_ago(words: list[str], first: int, last: int, lex: Lexicon) -> bool:
    """Whether the trigger's clause dates it to a year long past ("in 1944", "عام 1967")."""
    def long_ago(j: int) -> bool:
        w = words[j]
        return (len(w) == 4 and w.isdigit() and lex.historic_from <= int(w) < lex.historic_before
                and j > 0 and words[j - 1] in lex.historic_cues
                and not (j > 1 and words[j - 2] in lex.historic_place_words))

    for step, stop in ((-1, max(-1, first - 1 - HISTORIC_WINDOW)), (1, min(len(words), last + 1 + HISTORIC_WINDOW))):
        j = (first if step < 0 else last) + step
        while j != stop and words[j] not in lex.clause_breaks:
            if long_ago(j):
                return True
            j += step
    return False


def _modal_cue(trig: Trigger, words: list[str], first: int, last: int, lang: str, lex: Lexicon) -> str | None:
    """The modality that cancels this trigger, if any (negation, future, fear, purpose, ...)."""
    if lang == "ar" and trig.type == "offensive" and words[first][:1] == "ل" and words[first] not in trig.slots[0]:
        return "purpose"  # "للسيطرة", "لتتمكن": an aim, not a report
    if lang == "ar" and words[first][:1] == "ك" and words[first] not in trig.slots[0]:
        return "comparison"  # "كتجنيد الأطفال", "such as recruiting children": an example, not a report
    active = lex.groups_by_type.get(trig.type, frozenset())
    if "future" in active and lang == "ar" and _future_prefix(words[first], trig):
        return "future"  # "ستواصل القتال", "سيهاجم": the prefix "س" makes the verb future
    if "background" in active and _dated_long_ago(words, first, last, lex):
        return "background"
    steps = 0
    j = first - 1
    while j >= 0 and steps < lex.window_before:
        word = words[j]
        skip = _parenthetical_time_before(words, j, lex)
        if skip:
            j -= skip
            continue
        if word in lex.clause_breaks or word in lex.background_when:
            if word in lex.background_when and "background" in active and _background_before(words, j, lang, lex):
                return "background"  # "since March, when they launched ...": dates the story
            break
        cues = _analyse(word, lang, lex).cues & active
        for cue in cues:
            if cue == "purpose" and word in lex.purpose_needs_verb and (
                    trig.pos == "noun" or (j > 0 and words[j - 1] in lex.purpose_to_factual)):
                continue
            if j > 0 and words[j - 1] in lex.made_factual_by.get(word, ()):
                continue  # "was able to take": it was taken
            near = lex.near_groups.get(cue)
            if near is not None and steps >= near:
                continue  # "reduced the deployment" governs it; "after suspending talks Moscow deployed" does not
            return cue
        steps += 1
        j -= 1
    for j in range(last + 1, min(last + 1 + lex.window_after, len(words))):
        cues = _analyse(words[j], lang, lex).cues & lex.after_groups & active
        if cues:
            return next(iter(cues))
    return None


def _future_prefix(word: str, trig: Trigger) -> bool:
    """Whether an Arabic verb carries the future "س" before its person prefix ("ستواصل" from
    "تواصل", "ستقصف" read by a noun trigger as "قصف"): the word without "س", or without both
    prefixes, is a form of the trigger's first word, and the whole word is not ("سيطرت"). A
    conjunction may stand before it ("وستقصف")."""
    if word[:1] in "وف" and word[1:2] == "س":
        word = word[1:]
    return (word[:1] == "س" and word[1:2] in "يتنأ" and word not in trig.slots[0]
            and (_slot_matches(word[1:], trig.slots[0]) or word[2:] in trig.slots[0]))


def _background_before(words: list[str], when: int, lang: str, lex: Lexicon) -> bool:
    """A background cue ("since", "منذ") within the window before a "when" word."""
    for j in range(when - 1, max(-1, when - 1 - lex.window_before), -1):
        if words[j] in _CLAUSE_PUNCT:
            continue  # "since March 2015, when ...": the comma belongs to the date
        if "background" in _analyse(words[j], lang, lex).cues:
            return True
    return False


def _dateline_end(display: str) -> int:
    """Where an article's dateline ends (0 when it has none)."""
    m = _DATELINE.match(display, 0, 160)
    return m.end() if m else 0


def _after_dateline(names: list[tuple[int, int, Name]], sent: Sentence, dateline: int) -> list[tuple[int, int, Name]]:
    return [(a, b, n) for a, b, n in names if sent.span(a, a)[0] >= dateline]


def _actor_or_place(words: list[str], marks: list[int], actors: list[Found], places: list[Found],
                    lang: str) -> tuple[list, list]:
    """A name that is both an actor and a place ("Russia", "دمشق") plays one role in a sentence:
    a place after a locative word ("in Syria", "نحو سوريا", or the clitic "بسوريا"), after a
    border word or right after another place ("طرق تدمر بغداد"), an actor otherwise ("Russia
    launched strikes"). A country that acts is not where the event happened."""
    if not actors or not places:
        return actors, places
    both = {(a, b) for a, b, _ in actors} & {(a, b) for a, b, _ in places}
    if not both:
        return actors, places
    place_ends = {b for a, b, _ in places if (a, b) not in both}
    located = {(a, b) for a, b in both if _locative_before(words, marks, a) or a - 1 in place_ends
               or (lang == "ar" and words[a][:1] == "ب" and not words[a].startswith("ب" + "ب") and _clitic_b(words[a], places, a))
               or args.after_border(marks, a)}
    return ([m for m in actors if (m[0], m[1]) not in located],
            [m for m in places if (m[0], m[1]) in located or (m[0], m[1]) not in both])


def _locative_before(words: list[str], marks: list[int], a: int) -> bool:
    """"in Syria", "نحو سوريا", "بريف دمشق", "north of Baghdad": a locative or a place head right
    before a name."""
    if a == 0:
        return False
    if marks[a - 1] & (args.LOCATIVE | args.HEAD):
        return True
    return words[a - 1] == "of" and a > 1 and bool(marks[a - 2] & args.OF_LOCATIVE)


def _clitic_b(word: str, places: list[tuple[int, int, Name]], a: int) -> bool:
    """Whether "ب" before an Arabic name is the clitic "in" (the name itself does not start with it)."""
    return any(start == a and not name.words[0].startswith("ب") for start, _, name in places)


def _names_in(words: list[str], starts: list[tuple[int, tuple[Name, ...]]],
              display_word: Callable[[int], str]) -> list[tuple[int, int, Name]]:
    """(first word, last word, name) for each actor or place named in the sentence.

    `starts` lists the words that begin some name, with the names they may begin (longest first);
    `display_word(i)` is word i as written, for names that must match in case ("IS").
    """
    found = []
    free = 0  # names do not overlap: the next one starts after the last one found
    for i, names in starts:
        if i < free:
            continue
        following = name_stems(words[i + 1]) if i + 1 < len(words) else frozenset()
        for name in names:
            n = len(name.words)
            if name.exact is not None and display_word(i) != name.exact:
                continue
            if n == 1 or (i + n <= len(words) and name.words[1] in following and all(
                    words[i + k] == name.words[k] or name.words[k] in name_stems(words[i + k])
                    for k in range(2, n))):
                found.append((i, i + n - 1, name))
                free = i + n
                break
    return found


_INF = float("inf")


def _quantities_in(words: list[str], lang: str, lex: Lexicon) -> list[tuple[int, int, float, str]]:
    units = lex.units.get(lang, {})
    number_words = lex.number_words.get(lang, {})
    found = []
    for i in [i for i, w in enumerate(words) if w[0] in _DIGIT_START or w in number_words]:
        text = words[i]
        if _NUMBER.match(text):
            try:
                value = float(text.replace(",", ""))
            except ValueError:
                continue
            if value == _INF:  # over 308 digits: no count of troops, and JSON has no infinity
                continue
        elif text in number_words:
            value = float(number_words[text])
        else:
            continue
        for n in (2, 1):
            for skip in (0, 1):  # "45 كيلو مترا", "4500 from the ... fighters" (one word between)
                j = i + 1 + skip
                seq = tuple(words[j:j + n])
                if j + n <= len(words) and (seq in units or (n == 1 and _stemmed_unit(seq[0], units))):
                    unit = units.get(seq) or _stemmed_unit(seq[0], units)
                    found.append((i, j + n - 1, value, unit))
                    break
            else:
                continue
            break
    return found


def _stemmed_unit(word: str, units: dict[tuple[str, ...], str]) -> str | None:
    for s in stems(word):
        if (s,) in units:
            return units[(s,)]
    return None


def _sentence_actors(sent: Sentence, analyses: list[_Analysis], dateline: int,
                     display_word: Callable[[int], str]) -> list[Found]:
    """The actors named in the sentence (those in an opening dateline left out)."""
    actors = _names_in(sent.words, [(i, a.actors) for i, a in enumerate(analyses) if a.actors], display_word)
    if dateline > sent.start:
        actors = _after_dateline(actors, sent, dateline)
    return actors


# --- the tagger -------------------------------------------------------------------------------

class Tagger:
    """Loads every lexicon once; `tag` is then a pure function of the text."""

    def __init__(self) -> None:
        self.lex = lexicon()
        self.pickers = sentence_pickers()
        gazetteer()
        warm_up_normalizer()
        _spare_the_garbage_collector()

    def tag(self, text: str, language: str | None = None) -> TagResult:
        truncated = len(text) > MAX_TEXT
        text = text[:MAX_TEXT]
        if language:
            lang, conf = language, 1.0
        else:
            guess = detect_language(text)
            lang, conf = guess.code, guess.confidence
        result = self.tag_normalized(normalize(text), lang, conf, truncated)
        if not language:
            result.paragraphs = [{"start": p.start, "end": p.end, "language": p.code, "confidence": p.confidence}
                                 for p in detect_paragraphs(text)]
        return result

    def tag_normalized(self, norm: Normalized, lang: str, conf: float = 1.0, truncated: bool = False) -> TagResult:
        """Tag text that is already normalized (the Beam pipeline normalizes in its own step)."""
        events: list[Event] = []
        match = norm.match
        bounds = None
        scripts = _scripts(match) if lang in ("ar", "en") else None
        # An item in Arabic or English may quote the other language: then each candidate sentence
        # is tagged with the rules of its own script.
        langs = ("ar", "en") if scripts == "mixed" else (scripts,) if scripts else ()
        dateline = _dateline_end(norm.display) if langs else 0
        for s_lang in langs:
            indices, bounds = self.pickers[s_lang].sentences_to_match(match, bounds)
            for index in indices:
                start, end = bounds[index]
                if len(langs) == 1 or _sentence_language(match, start, end) == s_lang:
                    events.extend(self._tag_sentence(norm, Sentence(match, index, start, end), s_lang, dateline))
        if events:
            self._settle(norm, events, langs[0] if len(langs) == 1 else lang, dateline, bounds)
        return TagResult(lang, conf, _merge(events), match, norm.offsets, truncated, bounds=bounds)

    def _tag_sentence(self, norm: Normalized, sent: Sentence, lang: str, dateline: int = 0) -> list[Event]:
        lex = self.lex
        words = sent.words
        cache = _ANALYSIS[lang]
        analyses = [cache.get(word) or _analyse(word, lang, lex) for word in words]
        candidates = []
        for i, triggers in [(i, a.triggers) for i, a in enumerate(analyses) if a.triggers]:
            for trig in triggers:
                last = _match_trigger(trig, words, i)
                if last is not None and not _suppressed(trig, words, i, last):
                    candidates.append((trig, i, last))
        if not candidates:
            return []  # names and quantities only matter once a whole pattern matched
        def display_word(i: int) -> str:
            start, end = sent.span(i, i)
            return norm.display[start:end]

        # The actors are found only once a trigger needs them: most candidates fail a check first.
        actors: list[Found] | None = None
        military: bool | None = True if not _MILITARY_WORDS[lang].isdisjoint(words) else None  # None: ask the actors
        names = quantities = None
        marks: list[int] = []
        made: dict[tuple[int, int, str], Mention] = {}  # mentions shared by the sentence's events
        events = []
        refused = _refused_by_frame(candidates, words, lang, lex)
        for trig, i, last in candidates:
            if _inside_refused(trig, i, last, refused):
                continue
            if trig.needs_military:
                if military is None:
                    actors = _sentence_actors(sent, analyses, dateline, display_word)
                    military = any(n.kind == "armed" for _, _, n in actors)
                if not military:
                    continue
            if trig.subtype in _GROUND and _not_against_armed_foes(words, last, lang, lex):
                continue
            if trig.subtype == "capture" and _followed_by(words, last, lex.not_ground.get(lang, frozenset())):
                continue  # weapons seized or hostages freed: no ground taken
            if trig.frame and _frame_missing(trig, words, i, last, lang, lex):
                continue
            if "forces" in trig.frame:
                if actors is None:
                    actors = _sentence_actors(sent, analyses, dateline, display_word)
                if _no_forces(words, marks or _marks_of(words, lang, lex), i, last, actors, lang, lex):
                    continue
            if "towards" in trig.frame and not _forces_towards(words, analyses, last, lang, lex):
                continue
            if trig.subtype in _MOVEMENT and _civilian_movement(words, i, last, lang, lex):
                continue
            if trig.type == "troop_buildup" and _after_generic_head(words, i, lang, lex):
                continue
            if trig.type == "troop_buildup" and trig.subtype != "arming":  # arms bought with drug money still arm
                marks = marks or _marks_of(words, lang, lex)
                if _policing(words, marks, i, last, lang, lex):
                    continue
            if "hit_as_target" in trig.frame:
                marks = marks or _marks_of(words, lang, lex)
                if _struck(words, marks, i, last, lang, lex):
                    continue
            if "practice" in trig.frame:
                if actors is None:
                    actors = _sentence_actors(sent, analyses, dateline, display_word)
                marks = marks or _marks_of(words, lang, lex)
                if _practice(words, marks, i, last, actors, lang, lex):
                    continue
            if trig.type == "troop_buildup" and "forces" not in trig.frame:
                if actors is None:
                    actors = _sentence_actors(sent, analyses, dateline, display_word)
                marks = marks or _marks_of(words, lang, lex)
                if _security_only(words, marks, i, last, actors, lang, lex):
                    continue
            if trig.modal and _modal_cue(trig, words, i, last, lang, lex):
                continue
            if names is None:
                marks = marks or _marks_of(words, lang, lex)
                if actors is None:
                    actors = _sentence_actors(sent, analyses, dateline, display_word)
                names = self._sentence_names(norm, sent, words, marks, analyses, actors, lang, dateline, display_word)
                quantities = _quantities_in(words, lang, lex)
            play = args.share(marks, i, last, trig.subtype, names, "towards" in trig.frame)
            events.append(self._event(norm, sent, trig, i, last, play, quantities, made, names))
        return events

    def _sentence_names(self, norm: Normalized, sent: Sentence, words: list[str], marks: list[int],
                        analyses: list[_Analysis], actors: list[Found], lang: str, dateline: int,
                        display_word) -> SentenceNames:
        """The sentence's actors, places and nationality adjectives, each in one role."""
        lex = self.lex
        place_starts, adjectives = [], []
        for i, a in enumerate(analyses):  # one pass over the words for what starts a place or is a nationality
            if a.places:
                place_starts.append((i, a.places))
            if a.adjective:
                adjectives.append((i, a.adjective))
        places = _names_in(words, place_starts, display_word)
        if dateline > sent.start:
            places = _after_dateline(places, sent, dateline)
        actors, places = _actor_or_place(words, marks, actors, places, lang)
        if adjectives:
            covered = {k for a, b, _ in actors + places for k in range(a, b + 1)}
            adjectives = [(i, c) for i, c in adjectives if i not in covered]
        actors = args.split_adjectives(marks, actors, lang, lex.roles, adjectives)
        places = args.split_adjectives(marks, places, lang, lex.roles, adjectives)
        actors = args.drop_generic_after_names(actors)
        actors += args.force_frames(marks, adjectives, actors, lang, lex.roles)
        armies, cues = [], []
        for i, m in enumerate(marks):  # one pass over the marks for both
            if m & args.ARMY:
                armies.append(i)
            if m & args.PLACE_CUES:
                cues.append(i)
        actors += args.generic_armies(words, armies, actors, adjectives, lang, lex.roles)
        places = args.drop_places_inside_actors(places + args.border_adjectives(marks, adjectives, lex.roles), actors)
        places = [f for f in places if not args.is_head(marks, f)
                  and (not f[2].ambiguous or args.place_cue(words, marks, f[0], lang, display_word))]
        places += args.unknown_places(words, marks, cues, actors + places, adjectives, lang, lex, display_word)
        places = args.adjective_overrides(places, adjectives)
        actors.sort(key=lambda f: f[0])
        places.sort(key=lambda f: f[0])
        everything = actors + places
        return SentenceNames(actors, places, sorted(adjectives), frozenset(a for a, _, _ in everything),
                             frozenset(b for _, b, _ in everything), frozenset(a for a, _, _ in places))

    def _event(self, norm, sent, trig, first, last, play: Roleplay, quantities, made, names: SentenceNames) -> Event:
        o_start, o_end = norm.original_span(*sent.span(first, last))
        trigger = {"text": norm.original[o_start:o_end], "start": o_start, "end": o_end}
        actors = _mentions(norm, sent, play.actors, first, last, made)
        places = _mentions(norm, sent, play.places, first, last, made)
        pending = _Pending(actors=actors, places=places, hints=play.hints, weak=play.weak, sentence=sent,
                           names=names, made=made)
        return Event(
            type=trig.type, subtype=trig.subtype, sentence=sent.index, trigger=trigger, rule=trig.id,
            confidence=min(0.99, trig.confidence + (0.05 if play.actors else 0.0)),
            actors=[m for n, m in actors if n.canonical != args.GENERIC_ARMY],
            locations=[m for _, m in places],
            quantities=[_quantity(norm, sent, q) for q in quantities
                        if abs(q[0] - first) <= QUANTITY_TOKENS or abs(q[1] - last) <= QUANTITY_TOKENS],
            pending=pending,
        )

    # --- the article pass: countries, "the army", ambiguous places --------------------------

    def _settle(self, norm: Normalized, events: list[Event], lang: str, dateline: int,
                bounds: list[tuple[int, int]]) -> None:
        """Settle what one sentence cannot: the article's country context ranks ambiguous places
        and gives a country to events whose sentence names none."""
        context: tuple[str | None, Mention | None] | None = None
        pendings = [(e, e.pending) for e in events]
        for event, pending in pendings:
            event.pending = None
            if pending is None:
                continue
            needs = (any(n.ambiguous or has_namesakes(n) for n, _ in pending.places)
                     or not any(n.country for n, _ in pending.places) and not pending.hints
                     or any(n.canonical == args.GENERIC_ARMY for n, _ in pending.actors))
            if needs and context is None:
                read = {p.sentence.index: (p.sentence, p.names) for _, p in pendings if p is not None}
                context = self._article_context(norm, lang, dateline, read, bounds)
            country, evidence = context if needs and context else (None, None)
            self._settle_event(norm, event, pending, country, evidence)

    def _settle_event(self, norm: Normalized, event: Event, pending: _Pending, context: str | None,
                      evidence: Mention | None) -> None:
        places = []
        for name, mention in pending.places:
            chosen = args.choose_place(name, context)
            if chosen is None:
                continue
            if chosen is not name:
                mention = Mention(mention.text, mention.start, mention.end, chosen.canonical, chosen.kind,
                                  chosen.country, chosen.lat, chosen.lon)
            places.append((chosen, mention))
        country = next((n.country for n, _ in places if n.country), None)
        source = None
        if country is None:
            country, source = next(((c, f) for c, f in pending.hints), (context, evidence))
        if country is None:
            country, source = next(((c, f) for c, f in pending.weak), (None, None))
        if isinstance(source, tuple):  # a name of the event's sentence: its mention, made only now
            source = _mention(norm, pending.sentence, source, pending.made)[1]
        for i, (name, mention) in enumerate(places):
            if name.kind == args.UNRESOLVED and mention.country is None and country:
                places[i] = (name, Mention(mention.text, mention.start, mention.end, mention.canonical,
                                           mention.kind, country))
        event.locations = [m for _, m in places]
        if country and source is not None and not any(m.country for m in event.locations):
            place = self.lex.roles.countries.get(country)
            if place is not None:
                event.locations.append(Mention(source.text, source.start, source.end, place.canonical,
                                               args.INFERRED, country))
        self._resolve_armies(event, pending, country)

    def _resolve_armies(self, event: Event, pending: _Pending, country: str | None) -> None:
        """"the army" is the national army of where the event happens; unknown, it is left out."""
        forces = self.lex.roles.national_forces.get(country) if country else None
        actors: list[Mention] = []
        for name, mention in pending.actors:
            if name.canonical == args.GENERIC_ARMY:
                if forces is None:
                    continue
                mention = Mention(mention.text, mention.start, mention.end, forces.canonical, forces.kind, forces.country)
            if all(m.canonical != mention.canonical for m in actors):
                actors.append(mention)
        event.actors = actors

    def _article_context(self, norm: Normalized, lang: str, dateline: int,
                         read: dict[int, tuple[Sentence, SentenceNames]],
                         bounds: list[tuple[int, int]]) -> tuple[str | None, Mention | None]:
        """The country the article points to most, from its opening sentence and the sentences
        that hold its events (their places, home forces and nationalities; the dateline left
        out), and the first name that points to it. News says where early, and the event
        sentences are read already: the rest of the article is not read (a cost per article)."""
        if 0 not in read and bounds:
            first = Sentence(norm.match, 0, *bounds[0])
            read[0] = (first, self._opening_names(norm, first, lang, dateline))
        found = [(sent, f) for sent, names in read.values()
                 for f in names.actors + names.places + [(i, i, Name((), c, args.ADJECTIVE, c)) for i, c in names.adjectives]]
        counts = args.context_countries([f for _, f in found])
        if not counts:
            return None, None
        best = max(counts.items(), key=lambda kv: (kv[1], -min(s.index for s, f in found if f[2].country == kv[0])))[0]
        sent, where = min(((s, f) for s, f in found if f[2].country == best), key=lambda sf: (sf[0].index, sf[1][0]))
        mention = _mention(norm, sent, where, {})[1]
        return best, Mention(mention.text, mention.start, mention.end, best, args.INFERRED, best)

    def _opening_names(self, norm: Normalized, sent: Sentence, lang: str, dateline: int) -> SentenceNames:
        """The names of the article's first sentence, for its country context only."""
        lex = self.lex
        words = sent.words
        cache = _ANALYSIS[lang]
        analyses = [cache.get(w) or _analyse(w, lang, lex) for w in words]
        marks = _marks_of(words, lang, lex)
        def display_word(i: int) -> str:
            start, end = sent.span(i, i)
            return norm.display[start:end]

        actors = _names_in(words, [(i, a.actors) for i, a in enumerate(analyses) if a.actors], display_word)
        places = _names_in(words, [(i, a.places) for i, a in enumerate(analyses) if a.places], display_word)
        if dateline > sent.start:
            actors, places = _after_dateline(actors, sent, dateline), _after_dateline(places, sent, dateline)
        covered = {k for a, b, _ in actors + places for k in range(a, b + 1)}
        adjectives = [(i, a.adjective) for i, a in enumerate(analyses) if a.adjective and i not in covered
                      and sent.span(i, i)[0] >= dateline]
        actors = args.split_adjectives(marks, actors, lang, lex.roles, adjectives)
        places = args.split_adjectives(marks, places, lang, lex.roles, adjectives)
        return SentenceNames(actors, args.drop_places_inside_actors(places, actors), adjectives)


@dataclass
class _Pending:
    """An event's names before the article pass settles them (see Tagger._settle)."""
    actors: list[tuple[Name, Mention]]
    places: list[tuple[Name, Mention]]
    hints: list[tuple[str, Found]]  # where the country may come from, best first (arguments.share)
    weak: list[tuple[str, Found]]
    sentence: Sentence              # the event's sentence and its names: the article context counts them
    names: SentenceNames
    made: dict[tuple[int, int, str], Mention]  # the sentence's mentions, shared by its events


GC_YOUNG_THRESHOLD = 20_000


def _spare_the_garbage_collector() -> None:
    """Tagging allocates many short-lived containers and the process holds a few hundred thousand
    long-lived ones (lexicons, gazetteer, frequency lists, caches). With CPython's defaults the
    cyclic collector took ~11 % of tagging time (perf), mostly walking the long-lived ones. They
    are frozen (collections skip them) and young collections run every 20,000 allocations instead
    of 700: +8 % and +10 % articles/s measured (benchmarks/tagging_throughput.py, A/B runs).
    Process-wide, so only ever raised; the tagger's own objects hold no reference cycles."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), max(middle, 20), max(old, 20))


def _scripts(match: str) -> str:
    """"ar" or "en" when the whole text is in one script, else "mixed" (decided per sentence)."""
    if match.isascii():  # O(1) in CPython, and most English news is plain ASCII
        return "en"
    arabic, latin = _ARABIC.search(match), _LATIN.search(match)
    if arabic and latin:
        return "mixed"
    return "ar" if arabic else "en"


def _sentence_language(match: str, start: int, end: int) -> str:
    """Arabic or English rules for this sentence, by script (mixed items exist)."""
    arabic = len(_ARABIC.findall(match, start, end))
    latin = len(_LATIN.findall(match, start, end))
    return "ar" if arabic and arabic >= latin else "en"


def _mention(norm: Normalized, sent: Sentence, found: Found, made: dict[tuple[int, int, str], Mention]
             ) -> tuple[Name, Mention]:
    """The Mention of one name occurrence; `made` shares it among the sentence's events."""
    a, b, name = found
    mention = made.get((a, b, name.canonical))
    if mention is None:
        o_start, o_end = norm.original_span(*sent.span(a, b))
        mention = Mention(norm.original[o_start:o_end], o_start, o_end, name.canonical,
                          name.kind, name.country, name.lat, name.lon)
        made[(a, b, name.canonical)] = mention
    return name, mention


def _mentions(norm: Normalized, sent: Sentence, names: list[Found], first: int, last: int,
              made: dict[tuple[int, int, str], Mention]) -> list[tuple[Name, Mention]]:
    """The event's names, nearest to the trigger first, one per canonical name."""
    out: dict[str, tuple[Name, Mention]] = {}
    for found in sorted(names, key=lambda f: min(abs(f[0] - first), abs(f[1] - last))):
        if found[2].canonical not in out or found[2].canonical == "":
            name, mention = _mention(norm, sent, found, made)
            out.setdefault(name.canonical or f"{found[0]}", (name, mention))
    return list(out.values())


def _quantity(norm: Normalized, sent: Sentence, q) -> Quantity:
    a, b, value, unit = q
    o_start, o_end = norm.original_span(*sent.span(a, b))
    return Quantity(value, unit, norm.original[o_start:o_end], o_start, o_end)


def _merge(events: list[Event]) -> list[Event]:
    """One event per trigger. Only true repeats are merged: triggers that overlap (several rules
    reading the same words), or one report said twice in a sentence (same type, subtype, actors
    and places). The most confident keeps its trigger; the others' rules are added to it."""
    kept: list[Event] = []
    by_sentence: dict[tuple[str, int], list[Event]] = {}  # repeats are looked for in one sentence only
    for ev in sorted(events, key=lambda e: (-e.confidence, e.trigger["start"])):
        same = by_sentence.setdefault((ev.type, ev.sentence), [])
        twin = next((k for k in same if _repeats(k, ev)), None)
        if twin is None:
            ev.rules = [ev.rule]
            kept.append(ev)
            same.append(ev)
            continue
        if ev.rule not in twin.rules:
            twin.rules.append(ev.rule)
        have_q = {(q.value, q.unit) for q in twin.quantities}
        twin.quantities.extend(q for q in ev.quantities if (q.value, q.unit) not in have_q)
    return sorted(kept, key=lambda e: (e.sentence, e.trigger["start"]))


def _repeats(a: Event, b: Event) -> bool:
    if a.type != b.type or a.sentence != b.sentence:
        return False
    if a.trigger["start"] < b.trigger["end"] and b.trigger["start"] < a.trigger["end"]:
        return True
    return (a.subtype == b.subtype and {m.canonical for m in a.actors} == {m.canonical for m in b.actors}
            and {m.canonical for m in a.locations} == {m.canonical for m in b.locations})


_DEFAULT: Tagger | None = None


def default_tagger() -> Tagger:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Tagger()
    return _DEFAULT


def tag(text: str, language: str | None = None) -> TagResult:
    return default_tagger().tag(text, language)
