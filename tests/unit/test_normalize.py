"""Each normalization rule, including the letter-digit contacts that must stay."""
import pytest

from newswatch.pipelines.nlp.normalize import clean_unicode, fold, normalize


@pytest.mark.parametrize("raw, expected", [
    ("ﻻ", "لا"),                        # presentation-form ligature
    ("ﺑﻴﺮﻭﺕ", "بيروت"),                 # presentation forms
    ("مدرسة\u200f", "مدرسة"),           # bidi mark
    ("كتـــاب", "كتاب"),                # tatweel
    ("مَدْرَسَةٌ", "مدرسة"),              # diacritics
    ("٢٠١٧", "2017"),                   # Arabic-Indic digits
    ("۱۴۰۲", "1402"),                   # Persian digits
    ("نعم، لا؛ لماذا؟", "نعم, لا; لماذا?"),  # Arabic punctuation
    ("ＡＢＣ", "ABC"),                  # full-width (NFKC)
])
def test_unicode_cleanup(raw, expected):
    assert normalize(raw).display == expected


def test_match_form_folds_like_the_search_analyzer():
    assert fold("أحمد إلى آخر مدرسة على") == "احمد الي اخر مدرسه علي"
    assert fold("The ARMY") == "the army"


@pytest.mark.parametrize("raw, expected", [
    ("قطعت القوات مسافة30 كيلومترا", "قطعت القوات مسافة 30 كيلومترا"),
    ("جندت نحو3000 مقاتل", "جندت نحو 3000 مقاتل"),
    ("على بعد25كلم من المدينة", "على بعد 25 كلم من المدينة"),
    ("هدنة لمدة3 أشهر", "هدنة لمدة 3 أشهر"),
])
def test_digits_glued_to_words_are_split(raw, expected):
    assert normalize(raw).display == expected


@pytest.mark.parametrize("raw", [
    "ولد في 1960 و1961",      # proclitic و before a number
    "في الـ30 من الشهر",      # article + tatweel before a number (tatweel itself is removed)
    "محادثات جنيف2 للسلام",   # a numbered name
    "في عام 1440هـ",          # Hijri year abbreviation
    "منذ 2019م",              # Gregorian year abbreviation
    "مساحة 40 كم2",           # km²
    "صندوق (1تنمية الخليج)",  # one digit opening a bracket starts a name
    "شبكة «5جي» الجديدة",     # ... or a quote
])
def test_legitimate_letter_digit_contacts_stay(raw):
    clean, _ = clean_unicode(raw)
    assert normalize(raw).display == clean


@pytest.mark.parametrize("raw, expected", [
    ("زار الوفد الولاياتالمتحدة أمس", "زار الوفد الولايات المتحدة أمس"),
    ("اجتماع بين مصروالأردن", "اجتماع بين مصر والأردن"),
    ("وصل الوفد إلىبغداد", "وصل الوفد إلى بغداد"),
    ("القوات البريةتقدمت", "القوات البرية تقدمت"),
    ("قال إن القرار لايعتبر نهائيا", "قال إن القرار لا يعتبر نهائيا"),
])
def test_words_run_together_are_split(raw, expected):
    assert normalize(raw).display == expected


@pytest.mark.parametrize("word", ["دربتهم", "المتأهب", "جولاني", "ثقلهما", "والاستراتيجيات", "كارينو"])
def test_real_words_and_names_are_not_split(word):
    assert normalize(word).display == word


def test_offsets_map_back_to_the_original():
    raw = "كتـــاب الولاياتالمتحدة ومَدْرَسَة"
    n = normalize(raw)
    start = n.display.index("المتحدة")
    o_start, o_end = n.original_span(start, start + len("المتحدة"))
    assert raw[o_start:o_end] == "المتحدة"
    start = n.display.index("ومدرسة")
    o_start, o_end = n.original_span(start, start + len("ومدرسة"))
    assert raw[o_start:o_end] == "ومَدْرَسَة"


def test_match_and_display_have_equal_length():
    n = normalize("İstanbul ﻻ الولاياتالمتحدة")
    assert len(n.match) == len(n.display)


@pytest.mark.parametrize("text", [
    "ارتفع السهم إلى 3ر75 ريالا",          # ر as the decimal sign: one number, in both directions
    "النتائج النهائيىة للسباق",             # a misspelt ى before ة: ة never starts a word
    "أشاد ب»المبادرة» الجديدة",             # » after a clitic is the opening quote, not a word end
])
def test_contacts_inside_one_word_stay(text):
    assert normalize(text).display == text


@pytest.mark.parametrize("word", ["لاموقف", "لاسامية", "لامارك"])
def test_verb_negation_is_not_split_off_a_noun_or_name(word):
    assert normalize(word).display == word


@pytest.mark.parametrize("raw, expected", [("لايعلم", "لا يعلم"), ("لانعرف", "لا نعرف")])
def test_verb_negation_glued_to_a_verb_is_split(raw, expected):
    assert normalize(raw).display == expected


@pytest.mark.parametrize("word", ["الحقلاني", "المالكاني", "الدارجاني"])
def test_definite_nisba_names_stay_whole(word):
    assert normalize(word).display == word
