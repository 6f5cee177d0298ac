"""TokenTable: the pure-Python form and its compiled twin give the same answers."""
import importlib.util
import random
import re
from pathlib import Path

import pytest

from newswatch.pipelines.nlp import token_table

PURE_SOURCE = Path(token_table.__file__).resolve().parents[0] / "token_table.py"
if not PURE_SOURCE.exists():  # token_table is the compiled one, living in var/accel/
    PURE_SOURCE = Path(__file__).resolve().parents[2] / "pipelines" / "nlp" / "token_table.py"


def _pure_module():
    # Loaded under the package so that its relative imports resolve, whatever runs as token_table.
    spec = importlib.util.spec_from_file_location("newswatch.pipelines.nlp._pure_token_table", PURE_SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _implementations():
    pure = _pure_module().TokenTable
    compiled = token_table.TokenTable if token_table.__file__.endswith(".so") else None
    return pure, compiled


class Learner:
    """Marks tokens holding the letter 'k' or 'ق'; counts how often each token was learnt."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def __call__(self, token: str) -> bool:
        self.calls[token] = self.calls.get(token, 0) + 1
        return "k" in token or "ق" in token


def _expected(text: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    pos = 0
    for token in text.split():
        pos = text.index(token, pos)
        if "k" in token or "ق" in token:
            found.setdefault(token, []).append(pos)
        pos += len(token)
    return found


WHITE = [" ", "\n", "\t", "\u00a0", "\u2003", "\u3000", "\x1c", "\u2028", "  "]
PIECES = ["strike", "attack", "k", "kk", "قصف", "القوات", "الـ24", "k,", "(k)", "𝒌k", "é", "…k", "x", "ق",
          "قصفت", "والقوات،", "قصفتق1قق", "ققق"]


def _random_text(rng: random.Random, words: int) -> str:
    return "".join(rng.choice(PIECES) + rng.choice(WHITE) for _ in range(words)).strip(rng.choice(["", " "]))


@pytest.mark.parametrize("seed", range(5))
def test_finds_every_marked_token_where_str_split_sees_it(seed):
    rng = random.Random(seed)
    for table_class in filter(None, _implementations()):
        table = table_class(Learner(), 1000)
        for _ in range(50):
            text = _random_text(rng, rng.randint(0, 60))
            assert table.find(text) == _expected(text), (table_class, text)


ARABIC = [(0x0621, 0x063A), (0x0641, 0x064A)]
RUN = re.compile("[\u0621-\u063a\u0641-\u064a]+")


def _expected_runs(text: str, min_length: int) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for m in RUN.finditer(text):
        if len(m.group()) >= min_length and "ق" in m.group():
            found.setdefault(m.group(), []).append(m.start())
    return found


@pytest.mark.parametrize("seed", range(5))
def test_letter_runs_of_a_minimum_length(seed):
    rng = random.Random(seed)
    for table_class in filter(None, _implementations()):
        table = table_class(Learner(), 1000, letters=ARABIC, min_length=4)
        for _ in range(50):
            text = _random_text(rng, rng.randint(0, 60))
            assert table.find(text) == _expected_runs(text, 4), (table_class, text)


def test_letter_runs_split_at_any_other_character():
    text = "القوات1القوات قصفت،قصفت xقصفتx ـقصفت قص"
    for table_class in filter(None, _implementations()):
        learner = Learner()
        table = table_class(learner, 1000, letters=ARABIC, min_length=3)
        assert table.find(text) == {"القوات": [0, 7], "قصفت": [14, 19, 25, 32]}
        assert "قص" not in learner.calls  # shorter than min_length: never learnt


def test_empty_and_blank_text():
    for table_class in filter(None, _implementations()):
        table = table_class(Learner(), 10)
        assert table.find("") == {} and table.find(" \n\u00a0 ") == {}


def test_each_token_is_learnt_once_while_the_table_grows():
    # 150,000 distinct tokens: the compiled table (65,536 slots at first) doubles three times on
    # the way; a token it lost track of would be learnt again.
    text = " ".join(f"w{i}k" if i % 7 == 0 else f"w{i}" for i in range(150_000))
    for table_class in filter(None, _implementations()):
        learner = Learner()
        table = table_class(learner, 1_000_000)
        first = table.find(text)
        assert table.find(text) == first == _expected(text)
        assert len(learner.calls) == 150_000 and set(learner.calls.values()) == {1}
        assert len(table) == 150_000


def test_past_the_limit_it_forgets_and_still_answers_right():
    text = " ".join(f"t{i}k" for i in range(300))
    for table_class in filter(None, _implementations()):
        learner = Learner()
        table = table_class(learner, 100)
        assert table.find(text) == _expected(text)
        assert table.find("t1k t2") == {"t1k": [0]}
        assert len(table) <= 300
        assert learner.calls["t1k"] == 2  # forgotten past the limit, so learnt a second time


def test_many_distinct_marked_tokens_take_one_pass_in_pure_python(monkeypatch):
    pure = _pure_module()
    text = " ".join(f"k{i}" for i in range(pure.TokenTable.MAX_LOCATED * 3)) + " k1"
    located = []
    monkeypatch.setattr(pure, "whole_occurrences", lambda *a: located.append(a) or [])
    assert pure.TokenTable(Learner(), 1000).find(text) == _expected(text)
    assert located == []  # never one str.find scan per token on such a text


def test_the_compiled_twin_is_used_when_built():
    pure, compiled = _implementations()
    if compiled is None:
        pytest.skip("the compiled modules are not built here (no C compiler?); only pure Python runs")
    assert compiled is not pure and compiled.__module__ == "newswatch.pipelines.nlp.token_table"
    public = {name for name in dir(pure) if not name.startswith("_")}
    assert public <= set(dir(compiled)), public - set(dir(compiled))
