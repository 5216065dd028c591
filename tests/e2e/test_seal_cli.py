"""``comind seal``: sealing from the command line, keys, reseal; values never printed.

Driven through Typer's CliRunner (no platform is needed: the sealing keys are files in
the state directory). Errors a user can act on surface as the ComindError that
``comind``'s entry point turns into one line and an exit code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from comind.cli.connect import Globals
from comind.cli.seal import seal_cli
from comind.embedded.home import StateDir
from comind.errors import UsageError
from comind.gitops.sealed import read_sealed, unseal
from comind.gitops.sealing_keys import sealing_keys

SECRET = "sk_live_cli-do-not-leak-77"
SEALED = Path("secrets/orders/stripe-key.sealed.yaml")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(seal_cli, list(args), obj=Globals(home=home))


def seal(home: Path, repo: Path, *values: str, env: str = "dev") -> Result:
    scope = ["--app", "orders", "--env", env, "--name", "stripe-key", "--repo", str(repo)]
    return run(home, *scope, *values)


def opened(home: Path, repo: Path, env: str = "dev") -> dict[str, str]:
    keys = sealing_keys(StateDir(home))
    return unseal(repo / SEALED, keys, app="orders", env=env, name="stripe-key")


def test_seal_writes_the_file_and_prints_no_value(home: Path, repo: Path) -> None:
    result = seal(home, repo, "--from-literal", f"STRIPE_KEY={SECRET}")
    assert result.exit_code == 0, result.output
    assert str(repo / SEALED) in result.output
    assert SECRET not in result.output
    assert SECRET not in (repo / SEALED).read_text()
    assert opened(home, repo) == {"STRIPE_KEY": SECRET}


def test_values_from_files_and_literals_combine(home: Path, repo: Path, tmp_path: Path) -> None:
    (tmp_path / "webhook-secret.txt").write_text("whsec\n")
    (tmp_path / "other").write_text("x")
    result = seal(
        home,
        repo,
        "--from-file",
        str(tmp_path / "webhook-secret.txt"),
        "--from-file",
        f"EXPLICIT={tmp_path / 'other'}",
        "--from-literal",
        "A=1",
        "--json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["keys"] == ["A", "EXPLICIT", "WEBHOOK_SECRET_TXT"]
    assert doc["path"] == str(repo / SEALED)
    assert opened(home, repo) == {"A": "1", "EXPLICIT": "x", "WEBHOOK_SECRET_TXT": "whsec\n"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-literal", SECRET], "--from-literal expects KEY=VALUE"),
        (["--from-literal", f"bad-key={SECRET}"], "data key 'bad-key' must look like"),
        (["--from-literal", f"A={SECRET}", "--from-literal", "A=2"], "A is given twice"),
        (["--from-file", "/nonexistent/f"], "--from-file /nonexistent/f: No such file"),
        ([], "nothing to seal"),
    ],
)
def test_bad_values_are_usage_errors_without_the_value(
    home: Path, repo: Path, args: list[str], message: str
) -> None:
    result = seal(home, repo, *args)
    assert isinstance(result.exception, UsageError)
    assert result.exception.exit_code == 2
    assert message in str(result.exception)
    assert SECRET not in str(result.exception) and SECRET not in result.output
    assert not (repo / SEALED).exists()


def test_a_missing_scope_option_is_named(home: Path, repo: Path) -> None:
    result = run(home, "--app", "orders", "--from-literal", "A=1")
    assert isinstance(result.exception, UsageError)
    assert str(result.exception).startswith("comind seal needs --env, --name")


def test_options_before_a_sub_command_are_refused(home: Path) -> None:
    result = run(home, "--app", "orders", "rotate")
    assert isinstance(result.exception, UsageError)
    assert "comind seal rotate" in str(result.exception)


def test_rotate_reseal_and_keys(home: Path, repo: Path) -> None:
    assert seal(home, repo, "--from-literal", f"STRIPE_KEY={SECRET}").exit_code == 0
    assert seal(home, repo, "--from-literal", "B=2", env="prod").exit_code == 0
    rotated = run(home, "rotate", "--json")
    new = json.loads(rotated.output)["key_id"]
    listed = json.loads(run(home, "keys", "--json").output)
    assert [(k["key_id"] == new, k["newest"]) for k in listed] == [(False, False), (True, True)]
    resealed = json.loads(run(home, "reseal", "--repo", str(repo), "--json").output)
    assert resealed == {"key_id": new, "resealed": 2, "files": {str(repo / SEALED): 2}}
    assert {e["keyId"] for e in read_sealed(repo / SEALED).environments.values()} == {new}
    assert opened(home, repo) == {"STRIPE_KEY": SECRET}
    assert "resealed 0 entries" in run(home, "reseal", "--repo", str(repo)).output


def test_keys_on_a_fresh_state_directory_makes_none(home: Path) -> None:
    result = run(home, "keys")
    assert result.exit_code == 0
    assert "no sealing key yet" in result.output
    assert not home.exists()
