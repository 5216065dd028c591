"""``comind seal ...``: turn secret values into a file safe to commit, and manage the keys.

``comind seal --app A --env E --name N --from-literal K=V`` writes (or updates E's entry of)
``secrets/A/N.sealed.yaml`` in the platform repo, sealed with the newest sealing key of the
state directory; the platform opens it at sync time. Values come from the command line or
files and are never printed: output names files, data keys and key ids only.
:mod:`comind.platform.secrets` (the sealing code, the spec) loads in the commands: every
other command of the CLI would pay for it at each start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from comind.cli.connect import home_of
from comind.cli.output import JsonOpt, console, emit_json
from comind.errors import UsageError

seal_cli = typer.Typer(no_args_is_help=True)
RepoOpt = Annotated[Path, typer.Option(help="Platform repo holding secrets/.")]
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


@seal_cli.callback(invoke_without_command=True)
def seal(
    ctx: typer.Context,
    app: Annotated[str | None, typer.Option(help="App the secret belongs to.")] = None,
    env: Annotated[str | None, typer.Option(help="Environment to seal it for.")] = None,
    name: Annotated[str | None, typer.Option(help="Secret name, as in the app's secrets.")] = None,
    literal: Annotated[
        list[str] | None,
        typer.Option(
            "--from-literal",
            metavar="KEY=VALUE",
            help="A value (repeatable; stays in shell history, prefer --from-file).",
        ),
    ] = None,
    from_file: Annotated[
        list[str] | None,
        typer.Option(
            "--from-file",
            metavar="[KEY=]PATH",
            help="A file's content (repeatable); KEY defaults to the file name in capitals.",
        ),
    ] = None,
    repo: RepoOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Sealed secrets: seal values into the repo; rotate, reseal and list the keys.

    With --app, --env, --name and values: seal them into secrets/APP/NAME.sealed.yaml.
    """
    given = (app, env, name, literal, from_file)
    if ctx.invoked_subcommand is not None:
        if any(v is not None for v in given) or repo != Path(".") or as_json:
            raise UsageError(
                f"put options after the sub-command: `comind seal {ctx.invoked_subcommand} ...`"
            )
        return
    if app is None or env is None or name is None:
        missing = [f"--{k}" for k, v in (("app", app), ("env", env), ("name", name)) if v is None]
        raise UsageError(f"comind seal needs {', '.join(missing)} (see `comind seal --help`)")
    values = _values(literal or [], from_file or [])
    from comind.platform.secrets import seal_into

    done = seal_into(home_of(ctx), _repo(repo), app=app, env=env, name=name, values=values)
    if as_json:
        doc = {"path": str(done.path), "app": app, "env": env, "name": name}
        emit_json({**doc, "key_id": done.key_id, "keys": sorted(values)})
        return
    sealed = ", ".join(sorted(values))
    console.print(
        f"{done.path}: sealed {sealed} for {app} in {env} (key {done.key_id})", markup=False
    )


@seal_cli.command("rotate")
def rotate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Make a new sealing key now; older keys stay to open what they sealed."""
    from comind.platform.secrets import rotate_key

    key = rotate_key(home_of(ctx))
    if as_json:
        emit_json({"key_id": key.key_id, "created": key.created.isoformat()})
    else:
        console.print(
            f"new sealing key {key.key_id}; `comind seal reseal` moves sealed files to it"
        )


@seal_cli.command("reseal")
def reseal_files(ctx: typer.Context, repo: RepoOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Re-encrypt every secrets/*/*.sealed.yaml of the repo with the newest sealing key."""
    from comind.platform.secrets import reseal_repo

    key_id, changed = reseal_repo(home_of(ctx), _repo(repo))
    total = sum(changed.values())
    if as_json:
        emit_json({"key_id": key_id, "resealed": total, "files": changed})
    else:
        console.print(f"resealed {total} entries in {len(changed)} files with key {key_id}")


@seal_cli.command("keys")
def list_keys(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every sealing key with its creation time, oldest first; the newest seals."""
    from comind.platform.secrets import key_list

    rows = [{"key_id": k.key_id, "created": k.created.isoformat(), "newest": k.newest}
            for k in key_list(home_of(ctx))]  # fmt: skip
    if as_json:
        emit_json(rows)
    elif not rows:
        console.print("no sealing key yet; `comind seal` or `comind seal rotate` makes one")
    else:
        table = Table("key id", "created (UTC)", "seals")
        for r in rows:
            table.add_row(str(r["key_id"]), str(r["created"]), "yes" if r["newest"] else "")
        console.print(table)


def _repo(repo: Path) -> Path:
    if not repo.is_dir():
        raise UsageError(f"--repo {repo}: no such directory")
    return repo


def _values(literals: list[str], files: list[str]) -> dict[str, str]:
    """The values to seal by data key; a key given twice is refused."""
    pairs = [_literal(item) for item in literals] + [_file(item) for item in files]
    if not pairs:
        raise UsageError("nothing to seal: give --from-literal KEY=VALUE or --from-file [KEY=]PATH")
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in values:
            raise UsageError(f"data key {key} is given twice")
        values[key] = value
    return values


def _literal(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        # never echo the argument: without '=' it may be the value itself
        raise UsageError("--from-literal expects KEY=VALUE")
    return key, value


def _file(item: str) -> tuple[str, str]:
    key, sep, where = item.partition("=")
    path = Path(where if sep else item)
    if not sep:
        key = _NOT_ALNUM.sub("_", path.name.upper())
    try:
        return key, path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--from-file {path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"--from-file {path}: {exc.strerror or 'cannot read it'}") from None
