"""Event arguments by role: which actors and places around a trigger belong to its event, and in
which country the event happens.

A sentence often reports several things; names belong to the event whose clause holds them, not
to every trigger of the sentence. Per trigger: its clause (bounded by punctuation, relative
pronouns, subordinators and reported speech, roles.yaml) holds its agent, its target and where
it happens or towards which it goes. A trigger whose clause names no actor takes the agent of
the clause before it (Arabic drops a repeated subject: "... وسيطرت على القرى").

Places and actors are kept apart: a country that acts is an actor, a country after a locative or
a border word is a place, and an Arabic country name written with the article ("السورية") is an
adjective: the country of what it qualifies, neither an actor nor a place.

Every event gets its country: from its places; else from a place named elsewhere in the
sentence; else from an actor that fights at home (actors.yaml, at_home); else from the
nationality of what it names; else from the article's context (the country its places and home
forces point to most). A place the gazetteer lacks, named after a head ("قرية X", "the town of
X"), is reported as written with that country. When no place at all is named, the country itself
is the event's location, marked kind "inferred_country", without coordinates (the text and offsets
are those of the name it was read from).

Pure functions over a sentence's words (match form) and the names found in it; tagging.py calls
them only for sentences that hold an event.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .geo import has_namesakes, same_name_places
from .lexicon import Lexicon, Name, Roles
from .resources import word_zipf
from .tokens import name_stems

Found = tuple[int, int, Name]   # first word, last word, the name
CLAUSE_PUNCT = frozenset(".;:!?()\"«»")
MAX_BEFORE = 10       # words before a trigger that its clause may reach back
MAX_AFTER = 20        # and after it (a verb's objects, targets and destinations)
MAX_AFTER_AGREEMENT = 12  # a truce or an alert: its parties and place follow it closely
FALLBACK_REACH = 30   # how far back the agent of an earlier clause is looked for
FRAME_REACH = 18      # words after a trigger whose frame spans clauses (frame towards) that its places may be in
RELATION_REACH = 5    # words after "opposite" (", opposite the Turkish town of X") that the place it names may start within
UNRESOLVED = "place"                # kind of a place the gazetteer lacks, reported as written
INFERRED = "inferred_country"       # kind of a location that is only the event's country
ADJECTIVE = "adjective"             # kind of a country named by its adjective
GENERIC_ARMY = ""                   # canonical of "the army" until the event's country resolves it
VERY_COMMON_ZIPF = 4.5              # an ambiguous city this frequent as a word needs the article's context too
COMMON_NAME_WORD_ZIPF = 5.0         # an English word this frequent starts no place name the gazetteer lacks
_BUILDUP_AT_HOME = frozenset({"alert_raised", "mobilization"})
_BUILDUP = frozenset({"reinforcement", "massing", "recruitment", "new_base", "arming"})
_NO_GOAL = frozenset({"agreement", "extension", "violation", "talks", "monitoring", "alert_raised"})  # ceasefires, alerts: no destination


# What a word can be for the argument rules, looked up once per distinct word (tagging.py keeps
# the marks in its word cache): the rules below then test bits, not strings.
(BREAK, COMMA, RELATIVE, STRONG_HEAD, WEAK_HEAD, EN_BEFORE, EN_AFTER, LOCATIVE, BORDER, FORCE, STATE_HEAD,
 ARMY, TARGET, STOP, OF_LOCATIVE, ARTICLE, GOAL, RELATION, OPENER) = (1 << k for k in range(19))
HEAD = STRONG_HEAD | WEAK_HEAD


def word_marks(word: str, lang: str, lex: Lexicon) -> int:
    roles = lex.roles
    if word == ",":
        return COMMA
    if word in CLAUSE_PUNCT:
        return BREAK
    body = _body(word) if lang == "ar" else word
    forms = (word, body)

    def mark(bit: int, table) -> int:
        return bit if any(f in table for f in forms) else 0

    marks = mark(LOCATIVE, lex.locatives.get(lang, ())) | mark(BORDER, roles.border_heads.get(lang, ()))
    marks |= mark(FORCE, roles.force_heads.get(lang, ())) | mark(STATE_HEAD, roles.state_heads.get(lang, ()))
    marks |= mark(TARGET, roles.target_markers.get(lang, ())) | mark(STOP, roles.name_stops.get(lang, ()))
    marks |= mark(ARMY, roles.army_firsts.get(lang, ())) | mark(RELATIVE, roles.relatives.get(lang, ()))
    marks |= GOAL if word in roles.goal_markers.get(lang, ()) else 0
    conjunctions = "وف" if lang == "ar" else ""
    marks |= BREAK if _listed(word, roles.clause_breaks.get(lang, ()), conjunctions) else 0
    marks |= OPENER if _listed(word, roles.clause_openers.get(lang, ()), conjunctions) else 0
    # a relation word stands bare or after "و": "بالمقابل" (in return) is not "المقابل" (opposite)
    marks |= RELATION if _listed(word, roles.place_relations.get(lang, ()), conjunctions[:1]) else 0
    if lang == "ar":
        marks |= mark(STRONG_HEAD, roles.strong_heads) | mark(WEAK_HEAD, roles.weak_heads)
        marks |= ARTICLE if body.startswith("ال") else 0
    else:
        marks |= mark(EN_BEFORE, roles.en_before) | mark(EN_AFTER, roles.en_after)
        marks |= mark(OF_LOCATIVE, roles.of_locatives)
    return marks


def _listed(word: str, table, conjunctions: str) -> bool:
    """A word of the table, bare or after one of these conjunction letters (Arabic "و", "ف")."""
    return word in table or (len(word) > 2 and word[0] in conjunctions and word[1:] in table)


@dataclass
class SentenceNames:
    """The names of one sentence, sorted by role: what every event of the sentence chooses from."""
    actors: list[Found]
    places: list[Found]
    adjectives: list[tuple[int, str]]          # (word, country code) of nationality adjectives
    starts: frozenset[int] = frozenset()       # words that start a name (a comma between names is a list)
    ends: frozenset[int] = frozenset()
    place_starts: frozenset[int] = frozenset()


EMPTY_NAMES = SentenceNames([], [], [])  # for a clause read before the sentence's names are (commas then end it)


@dataclass
class Roleplay:
    """What one event took from its sentence, and what its country may be read from later."""
    actors: list[Found]
    places: list[Found]
    hints: list[tuple[str, Found]] = field(default_factory=list)  # (country, the name it comes from), best first
    weak: list[tuple[str, Found]] = field(default_factory=list)   # used only when the article gives no country


# --- names of a sentence ------------------------------------------------------------------

def _body(word: str) -> str:
    """An Arabic word without a leading conjunction (و ف) or preposition (ب ل)."""
    while len(word) > 3 and word[0] in "وفبل" and not word.startswith("ال"):
        word = word[1:]
    return word


def _written_as_adjective(marks: list[int], a: int, name: Name) -> bool:
    """"السورية" is "the Syrian", not Syria: a name written without the article, found with it."""
    return bool(marks[a] & ARTICLE) and len(name.words) == 1 and not name.words[0].startswith("ال")


def after_border(marks: list[int], a: int) -> bool:
    """"الحدود السورية", "الحدود مع الأردن", "the border with Syria": a border word just before."""
    for k in range(a - 1, max(-1, a - 4), -1):
        if marks[k] & (BREAK | COMMA):
            return False
        if marks[k] & BORDER:
            return True
    return False


def split_adjectives(marks: list[int], names: list[Found], lang: str, roles: Roles,
                     adjectives: list[tuple[int, str]]) -> list[Found]:
    """Arabic names written with an article they never take leave the names: a country's becomes
    an adjective (the country of what it qualifies), or the place itself after a border word
    ("الحدود السورية"); any other is another word ("الحماس", enthusiasm, is not Hamas)."""
    if lang != "ar":
        return names
    kept = []
    for a, b, name in names:
        if not _written_as_adjective(marks, a, name):
            kept.append((a, b, name))
        elif name.country and name.kind in ("state", "country"):
            if after_border(marks, a):
                country = roles.countries.get(name.country)
                if country is not None:
                    kept.append((a, b, country))
            else:
                adjectives.append((a, name.country))
    return kept


def border_adjectives(marks: list[int], adjectives: list[tuple[int, str]], roles: Roles) -> list[Found]:
    """"الحدود التركية", "the Syrian border": a nationality right after a border word names that
    country's ground, a place of the event."""
    return [(i, i, roles.countries[c]) for i, c in adjectives if c in roles.countries and after_border(marks, i)]


def drop_places_inside_actors(places: list[Found], actors: list[Found]) -> list[Found]:
    """"القوات الكردية السورية" is one actor; its "السورية" is no place of the event."""
    if not actors:
        return places
    return [(a, b, n) for a, b, n in places
            if not any(x <= a and b <= y and (x, y) != (a, b) for x, y, _ in actors)]


def drop_generic_after_names(actors: list[Found]) -> list[Found]:
    """"M23 rebels": a generic name right after another armed name is part of it."""
    ends = {b for _, b, n in actors if not n.generic}
    return [(a, b, n) for a, b, n in actors if not (n.generic and a - 1 in ends)]


def force_frames(marks: list[int], adjectives: list[tuple[int, str]], actors: list[Found], lang: str,
                 roles: Roles) -> list[Found]:
    """"طائرات حربية روسية", "Turkish drones", "جنود صوماليين": forces or their means with a
    nationality name that country's national forces (actors.yaml national: true); "الحكومة
    اليمنية", "Egyptian mediators": a government or its envoys name the state."""
    taken = {i for a, b, _ in actors for i in range(a, b + 1)}
    found = []
    for i, country in adjectives:
        if i in taken:
            continue
        near = range(max(0, i - 2), i) if lang == "ar" else range(i + 1, min(len(marks), i + 3))
        for bit, actor in ((FORCE, roles.national_forces.get(country)), (STATE_HEAD, roles.states.get(country))):
            head = next((j for j in near if marks[j] & bit and j not in taken), None)
            if actor is not None and head is not None:
                found.append((min(i, head), max(i, head), actor))
                taken.update(range(min(i, head), max(i, head) + 1))
                break
    return found


ADJECTIVE_REACH = 8  # words before "the army" in which a nationality tells whose army it is


def generic_armies(words: list[str], candidates: list[int], actors: list[Found], adjectives: list[tuple[int, str]],
                   lang: str, roles: Roles) -> list[Found]:
    """"the army", "الجيش", "troops": the army of the nationality named just before it ("رئيس
    الوزراء العراقي أن الجيش"), else the national army of wherever the event happens (resolved
    once the event's country is known; left out when it stays unknown)."""
    found: list[Found] = []
    if not candidates:  # the words marked ARMY
        return found
    taken = {i for a, b, _ in actors for i in range(a, b + 1)}
    phrases = roles.generic_army.get(lang, ())
    free = 0
    for i in candidates:
        if i < free or i in taken:
            continue
        word = _body(words[i]) if lang == "ar" else words[i]
        hit = next((p for p in phrases if p[0] in (word, words[i]) and (len(p) == 1 or tuple(words[i:i + len(p)]) == p)),
                   None)
        if hit is None or taken.intersection(range(i, i + len(hit))):
            continue
        whose = [c for k, c in adjectives if i - ADJECTIVE_REACH <= k < i and c in roles.national_forces]
        name = roles.national_forces[whose[-1]] if whose else Name(hit, GENERIC_ARMY, "armed", None, national=True)
        found.append((i, i + len(hit) - 1, name))
        free = i + len(hit)
    return found


# --- places the gazetteer lacks ----------------------------------------------------------------

def _adjective_shaped(word: str) -> bool:
    """An indefinite Arabic word ending like an adjective ("عازلة", "سكني") after a head."""
    return not word.startswith("ال") and word.endswith(("ه", "ي", "يه", "يين", "ين"))


_NOT_IN_NAME = BREAK | COMMA | STOP | HEAD


def _arabic_name_after(words: list[str], marks: list[int], i: int, roles: Roles, known: set[int],
                       adjective_at: dict[int, str]) -> tuple[int, str | None] | None:
    """The last word of an unknown place name right after head word i, and the country of a
    nationality adjective right after it ("منطقة كراسنودار الروسية")."""
    first = i + 1
    if first >= len(words) or first in known or first in adjective_at or marks[first] & _NOT_IN_NAME:
        return None
    w = words[first]
    if not w.isalpha():
        return None
    frequency = word_zipf("ar").get(w, 0.0)
    prefix = w in roles.toponym_prefixes and first + 1 < len(words) and not marks[first + 1] & _NOT_IN_NAME
    if not prefix and frequency >= roles.max_zipf["strong" if marks[i] & STRONG_HEAD else "weak"]:
        return None
    if not prefix and _adjective_shaped(w) and frequency >= 3.0:
        return None
    last = first
    while last + 1 < len(words) and last + 1 - first < roles.max_name_words:
        k = last + 1
        nxt = words[k]
        if (marks[k] & _NOT_IN_NAME or not nxt.isalpha() or k in known or k in adjective_at
                or nxt[0] in "وبل" and not nxt.startswith("ال")):
            break
        last = k
    return last, adjective_at.get(last + 1)


def _capitalised(display: str) -> bool:
    if display[:3].lower() in ("al-", "el-") and len(display) > 3:
        display = display[3:]
    return display[:1].isupper()


def _english_run(words: list[str], start: int, step: int, display_word: Callable[[int], str], roles: Roles,
                 known: set[int]) -> list[int]:
    """Consecutive capitalised words from `start` going `step` (1 or -1), none of them known."""
    run = []
    j = start
    while 0 <= j < len(words) and len(run) < roles.max_name_words:
        if j in known or not words[j][:1].isalpha():
            break
        shown = display_word(j)
        if not _capitalised(shown) or shown in roles.not_place_words:
            break
        run.append(j)
        j += step
    return sorted(run)


def _english_name_ok(run: list[int], words: list[str], roles: Roles) -> bool:
    if not run or run[0] == 0:
        return False  # the sentence's first word is capitalised anyway
    if len(run) == 1 and word_zipf("en").get(words[run[0]], 0.0) >= roles.max_zipf["english"]:
        return False  # a capitalised common word ("Parliament") more likely than a village
    return True


def _english_spans(words: list[str], marks: list[int], candidates: list[int], roles: Roles, known: set[int],
                   display_word: Callable[[int], str]) -> list[tuple[int, int]]:
    spans = []
    common = word_zipf("en")

    def may_start(j: int) -> bool:  # a name's word: not a function word, not known, not frequent
        return (0 <= j < len(words) and j not in known and not marks[j] & (BREAK | COMMA | STOP)
                and common.get(words[j], 0.0) < COMMON_NAME_WORD_ZIPF)

    for i in candidates:
        m = marks[i]
        run: list[int] = []
        if m & EN_BEFORE and i + 2 < len(words) and words[i + 1] == "of" and may_start(i + 2):
            run = _english_run(words, i + 2, 1, display_word, roles, known)
        if not run and m & EN_AFTER and may_start(i - 1):
            run = _english_run(words, i - 1, -1, display_word, roles, known)
        if not run and m & LOCATIVE:
            start = i + 2 if i + 1 < len(words) and words[i + 1] == "the" else i + 1
            if may_start(start):
                run = _english_run(words, start, 1, display_word, roles, known)
        if _english_name_ok(run, words, roles):
            spans.append((run[0], run[-1]))
    return spans


PLACE_CUES = HEAD | EN_BEFORE | EN_AFTER | LOCATIVE  # the words unknown_places starts from


def unknown_places(words: list[str], marks: list[int], candidates: list[int], names: list[Found],
                   adjectives: list[tuple[int, str]], lang: str, lex: Lexicon,
                   display_word: Callable[[int], str]) -> list[Found]:
    """Places named after a head but unknown to the gazetteer: reported as written. `candidates`
    are the words marked PLACE_CUES."""
    roles = lex.roles
    known = {k for a, b, _ in names for k in range(a, b + 1)}
    adjective_at = dict(adjectives)
    spans: list[tuple[int, int, str | None]] = []
    if lang == "ar":
        for i in candidates:
            if marks[i] & HEAD and i + 1 < len(marks):
                got = _arabic_name_after(words, marks, i, roles, known, adjective_at)
                if got:
                    spans.append((i + 1, got[0], got[1]))
    else:
        spans = [(a, b, adjective_at.get(b + 1))
                 for a, b in _english_spans(words, marks, candidates, roles, known, display_word)]
    found: list[Found] = []
    for a, b, country in spans:
        if any(a <= y and x <= b for x, y, _ in found):
            continue
        text = " ".join(display_word(k) for k in range(a, b + 1))
        found.append((a, b, Name(tuple(words[a:b + 1]), text, UNRESOLVED, country)))
    return found


def adjective_overrides(places: list[Found], adjectives: list[tuple[int, str]]) -> list[Found]:
    """"مدينة رفح المصرية": a place followed by a nationality is in that country (Rafah is on
    both sides of a border); its coordinates are then unknown."""
    if not adjectives:
        return places
    adjective_at = dict(adjectives)
    out = []
    for a, b, name in places:
        country = adjective_at.get(b + 1)
        if country and name.country and country != name.country and name.kind not in ("country", ADJECTIVE):
            name = replace(name, country=country, lat=None, lon=None, kind=UNRESOLVED, ambiguous=False)
        out.append((a, b, name))
    return out


def is_head(marks: list[int], found: Found) -> bool:
    """"مدينة" in "مدينة جازان" introduces a place; it is not Madinah."""
    a, b, name = found
    return a == b and not name.curated and bool(marks[a] & (HEAD | EN_BEFORE))


def place_cue(words: list[str], marks: list[int], a: int, lang: str, display_word: Callable[[int], str]) -> bool:
    """Whether an ambiguous place name (also an everyday word) stands where a place would: after
    a locative or a place head, with the Arabic clitic "ب", or capitalised in English."""
    before = marks[a - 1] if a > 0 else 0
    if lang == "ar":
        word = words[a]
        clitic_b = word.startswith(("ب", "وب")) and not any(n.startswith("ب") for n in name_stems(word) if n != word)
        return bool(before & (LOCATIVE | HEAD)) or clitic_b
    return a > 0 and _capitalised(display_word(a))


# --- one event's share --------------------------------------------------------------------------

def _comma_continues(marks: list[int], at: int, names: SentenceNames) -> bool:
    """A comma inside a list of names ("Russia, Turkey and Iran"), or before a further place
    ("in the village of X, in Idlib province", "X, opposite the town of Y"), does not end the
    clause."""
    if at - 1 in names.ends and at + 1 in names.starts:
        return True
    if at + 1 < len(marks) and marks[at + 1] & LOCATIVE:
        return at + 2 in names.place_starts
    return at + 1 < len(marks) and bool(marks[at + 1] & RELATION) and any(
        k in names.place_starts for k in range(at + 2, at + 2 + RELATION_REACH))


def clause(marks: list[int], first: int, last: int, names: SentenceNames, after: int = MAX_AFTER) -> tuple[int, int]:
    """The words of the trigger's clause, [lo, hi]. A verb that opens a main clause (clause_openers)
    ends it only when a name follows the verb as its subject."""
    lo = first
    while lo > 0 and first - lo < MAX_BEFORE:
        m = marks[lo - 1]
        if m & BREAK or (m & COMMA and not _comma_continues(marks, lo - 1, names)) or (m & OPENER and lo in names.starts):
            break
        lo -= 1
    hi = last
    while hi + 1 < len(marks) and hi - last < after:
        m = marks[hi + 1]
        if m & BREAK or (m & COMMA and not _comma_continues(marks, hi + 1, names)) or (
                m & OPENER and hi + 2 in names.starts):
            break
        hi += 1
    return lo, hi


def share(marks: list[int], first: int, last: int, subtype: str, names: SentenceNames,
          spans_clauses: bool = False) -> Roleplay:
    """The actors and places of one event, and where its country may come from. A trigger with
    no actor before it or right after it in its clause ("... وسيطرت على القرى") has the agent
    of the clause before it. A trigger whose frame spans clauses (frame towards) takes the places
    of the clause after a comma too."""
    lo, hi = clause(marks, first, last, names, MAX_AFTER_AGREEMENT if subtype in _NO_GOAL else MAX_AFTER)
    actors = [f for f in names.actors if lo <= f[0] and f[1] <= hi]
    places_hi = _goal_clause_end(marks, hi, names) if subtype not in _NO_GOAL else hi
    if spans_clauses:  # "ترسل تركيا منذ أسابيع، قوات ... إلى إدلب": the frame's reach, commas and all
        places_hi = max(places_hi, min(len(marks) - 1, last + FRAME_REACH))
    places = [f for f in names.places if lo <= f[0] and f[1] <= places_hi]
    if lo > 0 and marks[lo - 1] & RELATIVE:
        before = lo - 3 if lo > 2 and marks[lo - 2] & COMMA else lo - 2
        actors = [f for f in names.actors if f[1] == before] + actors  # "the United States, which called for it"
    elif not any(f[1] < first or f[0] <= last + 2 for f in actors):
        agent = _nearest_agent_before(marks, names.actors, lo)
        if agent is not None:
            actors = [agent] + actors
    play = Roleplay(actors, places)
    play.hints = _country_hints(first, lo, hi, subtype, names, actors)
    if subtype in _BUILDUP:  # forces readied without a destination are readied at home
        play.weak = [(n.country, (a, b, n)) for a, b, n in actors[:1] if n.country and n.kind in ("state", "armed")]
    return play


def _goal_clause_end(marks: list[int], hi: int, names: SentenceNames) -> int:
    """Where the clause after this one ends when it says what the move or attack is for
    (", لتتمكن من السيطرة على مدينة الطبقة", "... to the front"): its places are the event's
    destination. Else the event's own clause end."""
    k = hi + 1
    if k < len(marks) and marks[k] & COMMA:
        k += 1
    if k >= len(marks) or not marks[k] & GOAL or k == hi + 1 and not marks[k] & BREAK:
        return hi
    return clause(marks, k, k, names)[1]


def _nearest_agent_before(marks: list[int], actors: list[Found], lo: int) -> Found | None:
    """The nearest armed or state actor before the clause that is not an attack's target."""
    for a, b, name in reversed(actors):
        if b >= lo or name.kind not in ("armed", "state"):
            continue
        if lo - b > FALLBACK_REACH:
            return None
        if not (a > 0 and marks[a - 1] & TARGET):
            return a, b, name
    return None


def _country_hints(first: int, lo: int, hi: int, subtype: str, names: SentenceNames,
                   actors: list[Found]) -> list[tuple[str, Found]]:
    """Best first: a force that fights at home; for an alert or a mobilization, the country of
    whoever declares it; a nationality in the clause; a place named elsewhere in the sentence."""
    hints: list[tuple[str, Found]] = []
    hints += [(n.country, (a, b, n)) for a, b, n in actors if n.at_home and not n.generic and n.country]
    if subtype in _BUILDUP_AT_HOME:
        hints += [(n.country, (a, b, n)) for a, b, n in actors[:1] if n.country and n.kind in ("state", "armed")]
    hints += [(country, (i, i, Name((), country, ADJECTIVE, country))) for i, country in names.adjectives
              if lo <= i <= hi]
    outside = sorted((abs(a - first), (a, b, n)) for a, b, n in names.places
                     if n.country and not (lo <= a and b <= hi) and not n.ambiguous)
    hints += [(f[2].country, f) for _, f in outside[:1]]
    return hints


# --- the article ----------------------------------------------------------------------------

def context_countries(found: list[Found]) -> Counter:
    """Countries the article points to: its unambiguous places count twice, home forces and
    nationality adjectives once."""
    counts: Counter = Counter()
    for _, _, name in found:
        if not name.country or name.ambiguous or name.canonical == GENERIC_ARMY:
            continue
        if name.kind == ADJECTIVE or (name.kind == "armed" and name.at_home and not name.generic):
            counts[name.country] += 1
        elif name.kind not in ("armed", "state", "organization"):
            counts[name.country] += 2
    return counts


def choose_place(name: Name, context: str | None) -> Name | None:
    """An ambiguous name is kept when it is rare enough as a word or its country is the
    article's; among cities of one name, the one in the article's country wins."""
    if context and name.kind == "city" and not name.curated and has_namesakes(name):
        local = [n for n in same_name_places(name) if n.country == context]
        if local:
            name = local[0]
    if name.ambiguous and name.country != context:
        frequency = max((word_zipf(lang).get(w, 0.0) for lang in ("ar", "en") for w in name.words), default=0.0)
        if frequency >= VERY_COMMON_ZIPF:
            return None  # "في صور" in a story about Syria: "in pictures", not Tyre
    return name
