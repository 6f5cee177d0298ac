"""`newswatch subscribe` and `newswatch subscriptions` as a user runs them, on the real search engine."""
from __future__ import annotations

import json
import stat
import subprocess
import sys

from newswatch.pipelines.subscriptions_cli import SECRETS_DIR

from .conftest import REPO_DIR, settings_env


def _cli(settings, *args: str, **env_extra) -> subprocess.CompletedProcess:
    env = {**settings_env(settings), **env_extra}
    return subprocess.run([sys.executable, "-m", "newswatch.pipelines.cli", *args], env=env, cwd=REPO_DIR,
                          capture_output=True, text=True, timeout=120)


def test_subscribe_list_show_and_remove(settings):
    made = _cli(settings, "subscribe", "--name", "strikes near Deir ez-Zor", "--types", "offensive",
                "--countries", "sy", "--near", "35.33,40.14", "--radius-km", "40", "--query", "airstrikes",
                "--webhook", "http://127.0.0.1:9/hook", "--realert", "15m", "--digest", "--owner", "ana")
    assert made.returncode == 0, made.stderr
    sub_id = made.stdout.strip()
    key_file = SECRETS_DIR / f"{sub_id}-webhook-0.key"
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert key not in made.stdout + made.stderr and str(key_file) in made.stderr
    shown = _cli(settings, "subscriptions", "show", sub_id)
    sub = json.loads(shown.stdout)
    assert sub["countries"] == ["SY"] and sub["realert_s"] == 900 and sub["digest"] is True
    assert key not in shown.stdout and "secret" not in sub["channels"][0]
    listed = _cli(settings, "subscriptions", "list", "--owner", "ana")
    assert sub_id in listed.stdout and "1 subscription(s)" in listed.stdout
    assert _cli(settings, "subscriptions", "rm", sub_id).returncode == 0
    gone = _cli(settings, "subscriptions", "show", sub_id)
    assert gone.returncode == 2 and "no subscription" in gone.stderr
    key_file.unlink()


def test_user_errors_say_what_to_fix(settings):
    bad_country = _cli(settings, "subscribe", "--name", "x", "--countries", "Syria")
    assert bad_country.returncode == 2 and "two-letter ISO 3166-1" in bad_country.stderr
    radius_alone = _cli(settings, "subscribe", "--name", "x", "--radius-km", "10")
    assert radius_alone.returncode == 2 and "near" in radius_alone.stderr
    refused = _cli(settings, "subscribe", "--name", "x", "--webhook", "http://169.254.169.254/latest",
                   NEWSWATCH_ALERTS__ALLOWED_NETWORKS="[]")
    assert refused.returncode == 2 and "ALLOWED_NETWORKS" in refused.stderr.upper()
    assert "Traceback" not in bad_country.stderr + radius_alone.stderr + refused.stderr
