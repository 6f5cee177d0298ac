"""Bad input gives a result, never a crash or a hang; patterns run in linear time."""
import random
import signal

import pytest

from newswatch.pipelines.nlp.normalize import normalize
from newswatch.pipelines.nlp.tagging import MAX_TEXT, tag


@pytest.mark.parametrize("text", [
    "", " ", "\n\n\n", "1234567890" * 50, "!!!???...,,,", "\ufffd\ufffd\x00\x01",
    "abc\u202eevil\u202c", "عربي English 中文 русский ελληνικά",
])
def test_odd_inputs_give_a_result(text):
    result = tag(text)
    assert result.language and isinstance(result.events, list)


def test_binary_garbage_decoded_as_text():
    rng = random.Random(7)
    blob = bytes(rng.randrange(256) for _ in range(20_000)).decode("utf-8", errors="replace")
    assert isinstance(tag(blob).events, list)


def test_one_megabyte_of_text_is_tagged_and_bounded():
    text = ("قصفت المدفعية مواقع المسلحين. " * 40_000)[: MAX_TEXT + 10]
    result = tag(text)
    assert result.truncated and "offensive" in result.labels


@pytest.fixture
def hang_guard():
    """Turns a hang (catastrophic backtracking) into a failure instead of a stuck CI run.
    Not a speed check: 120 s is ~1000x what these inputs take."""
    def on_alarm(signum, frame):
        raise TimeoutError("normalize/tag did not finish on adversarial input: a pattern backtracks")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("unit", ["ا", "a", "1", "ال1", "؟!", "ة", "و", "ال", "-a", "لل", "ا1ب"])
def test_adversarial_repetitions_finish(unit, hang_guard):
    # Long runs of one character class are where backtracking patterns explode.
    text = unit * (100_000 // len(unit))
    result = tag(text)
    assert normalize(text).display is not None and isinstance(result.events, list)


def test_many_distinct_trigger_words_in_one_text_give_each_sentence_its_own_events(hang_guard):
    # Hundreds of different trigger words in one text (the token table's one-pass path, see
    # test_token_table.py): each sentence must get exactly the events it gets on its own.
    from newswatch.pipelines.nlp.lexicon import lexicon
    from newswatch.pipelines.nlp.token_table import TokenTable

    firsts = sorted(lexicon().triggers_by_first["ar"])
    assert len(firsts) > TokenTable.MAX_LOCATED
    sentences = [f"{word} الجيش مواقع المسلحين قرب الحدود." for word in firsts]
    whole = tag(" ".join(sentences), "ar")
    per_sentence = [sorted(tag(s, "ar").labels) for s in sentences]
    assert [s["labels"] for s in whole.sentences] == per_sentence
    assert any(per_sentence)
