"""The README documents every dead-letter reason the code can produce."""
import re

from newswatch.pipelines.model import DEAD_LETTER_REASONS
from newswatch.pipelines.settings import REPO_DIR


def test_every_dead_letter_reason_is_in_the_readme_table():
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Dead-letter reasons"):]
    table = section[:section.index("\n\n", section.index("| reason |"))]  # the table, up to the blank line
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", table, flags=re.M))
    assert documented == set(DEAD_LETTER_REASONS)
