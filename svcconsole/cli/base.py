"""The CLI's shared parts: the state behind `--db`, `--read-only` and `--as`, error handling
that turns every refusal into one line and its exit code, and confirmation rules.
"""

from __future__ import annotations

import importlib
import logging
import sys
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import typer
from sqlmodel import Session
from typer._click.core import Command, Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

from svcconsole.cli.output import message
from svcconsole.core import config
from svcconsole.core.context import acting_operator, open_database
from svcconsole.core.errors import InvalidInput, SvcError, duplicate_input
from svcconsole.core.logs import redact
from svcconsole.core.operators import Actor, require
from svcconsole.core.statuses import NON_TRANSITION_ROLES
from svcconsole.store.engine import Database, DatabaseError, DuplicateValue

log = logging.getLogger("svcconsole.cli")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_DENIED = 0, 1, 2, 3, 4


def _one_line(error: ClickException) -> str:
    text = " ".join(error.format_message().split())
    context = getattr(error, "ctx", None)
    if context is not None:
        text += f" (see `{context.command_path} --help`)"
    return text


class SvcGroup(TyperGroup):
    """A command group whose errors are one line on stderr and a documented exit code."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None, standalone_mode: bool = True, **extra: Any) -> Any:  # type: ignore[override]  # Typer's group main() is overloaded; this one forwards every form
        try:
            result = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra)
        except SvcError as error:
            message(f"error: {error.message}")
            code = error.exit_code
        except DuplicateValue as error:
            refusal = duplicate_input(error)
            message(f"error: {refusal.message}")
            code = refusal.exit_code
        except DatabaseError as error:
            message(f"error: {error}")
            code = EXIT_ERROR
        except NoArgsIsHelpError as error:
            typer.echo(error.format_message(), err=True)
            code = EXIT_USAGE
        except ClickException as error:
            message(f"error: {_one_line(error)}")
            code = error.exit_code
        except typer.Abort:
            message("aborted")
            code = EXIT_ERROR
        except KeyboardInterrupt:
            message("interrupted")
            code = 130
        except Exception as error:  # never a traceback for the user; the log keeps it
            log.exception("unexpected error")
            message(f"error: internal error: {type(error).__name__}: {' '.join(redact(str(error)).split())[:300]} (the traceback is in the operations log)")
            code = EXIT_ERROR
        else:
            code = result if isinstance(result, int) else EXIT_OK
        if not standalone_mode:
            return code
        sys.exit(code)


class LazyGroup(SvcGroup):
    """A group that imports a command's module only when that command runs.

    `lazy_commands` maps a command name to `module:attribute`: a Typer app (a sub-group, or a
    group holding a command of that name) or a command function. Any other name is looked
    up in `fallback`, a Typer app whose module registers the rest. Why: a read command imports
    only what it needs, so a script that calls the CLI per service does not pay for all of it.
    """

    lazy_commands: ClassVar[dict[str, str]] = {}
    fallback: ClassVar[str | None] = None

    def list_commands(self, ctx: Context) -> list[str]:
        names = [*super().list_commands(ctx), *self.lazy_commands]
        if self.fallback is not None:
            names += _loaded_group(self.fallback).list_commands(ctx)
        return list(dict.fromkeys(names))

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        spec = self.lazy_commands.get(cmd_name)
        if spec is not None:
            return _loaded_command(spec, cmd_name)
        if self.fallback is not None:
            return _loaded_group(self.fallback).get_command(ctx, cmd_name)
        return None


_LOADED: dict[str, Command] = {}


def _import(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _loaded_group(spec: str) -> TyperGroup:
    """The click group a Typer app becomes, built once."""
    if spec not in _LOADED:
        _LOADED[spec] = typer.main.get_group(_import(spec))
    group = _LOADED[spec]
    assert isinstance(group, TyperGroup)
    return group


def _loaded_command(spec: str, name: str) -> Command:
    """The command `name` from `spec`: a sub-group, a group's command, or a command function."""
    target = _import(spec)
    if isinstance(target, typer.Typer):
        group = _loaded_group(spec)
        command = group.commands.get(name)
        if command is None:  # the app is the sub-group itself
            group.name = name
            return group
        return command
    single = new_app("")
    single.command(name)(target)
    return typer.main.get_command(single)


def full_tree(app: typer.Typer) -> Command:
    """The click command of `app` with every lazy group loaded into `.commands` (for tests and tools that walk the tree)."""
    root = typer.main.get_command(app)
    _load_all(root)
    return root


def _load_all(command: Command) -> None:
    if not isinstance(command, TyperGroup):
        return
    context = Context(command)
    for name in command.list_commands(context):
        child = command.get_command(context, name)
        if child is not None:
            command.commands[name] = child
            _load_all(child)


def lazy_app(help_text: str, commands: dict[str, str], *, fallback: str | None = None, **kwargs: Any) -> typer.Typer:
    """A Typer app whose commands load on use (see `LazyGroup`)."""
    group_class = type("LazyGroup", (LazyGroup,), {"lazy_commands": commands, "fallback": fallback})
    return new_app(help_text, cls=group_class, **kwargs)


def new_app(help_text: str, **kwargs: Any) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        cls=kwargs.pop("cls", SvcGroup),
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        no_args_is_help=kwargs.pop("no_args_is_help", True),
        add_completion=kwargs.pop("add_completion", False),
        context_settings={"help_option_names": ["-h", "--help"]},
        **kwargs,
    )


@dataclass
class CliState:
    """What the global options chose; the database and the actor open on first use."""

    db_url: str | None = None
    read_only: bool = False
    as_login: str | None = None
    _db: Database | None = field(default=None, repr=False)
    _actor: Actor | None = field(default=None, repr=False)
    _config: config.Config | None = field(default=None, repr=False)

    @property
    def config(self) -> config.Config:
        """config.toml with the environment's overrides, read once (its problems are the console's to show)."""
        if self._config is None:
            self._config = config.load()
        return self._config

    @property
    def database_url(self) -> str | None:
        """`--db`, else $SVCCONSOLE_DATABASE_URL or config.toml's database_url (None: the default file)."""
        return self.db_url or self.config.database_url

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = open_database(self.database_url)
        return self._db

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            self._actor = acting_operator(self.db, as_login=self.as_login, read_only=self.read_only)
        return self._actor

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


def read_session(ctx: typer.Context) -> AbstractContextManager[Session]:
    """A read-only session, once the actor may read."""
    cli = state(ctx)
    require(cli.actor, NON_TRANSITION_ROLES["read"], "reading")
    return cli.db.read()


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def stdin_is_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(question: str, *, yes: bool) -> None:
    """Go on only with `--yes` or a "y" typed at a terminal; off a TTY, refuse without `--yes`."""
    if yes:
        return
    if not stdin_is_tty():
        raise InvalidInput("--yes", f"{question}: stdin is not a terminal, so pass --yes to confirm")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(EXIT_ERROR)


def read_stdin_ids() -> list[str]:
    return [token for line in sys.stdin.read().splitlines() for token in line.replace(",", " ").split() if token]
