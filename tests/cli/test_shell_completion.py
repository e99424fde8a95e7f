"""Shell completion (Typer's): `--install-completion` is offered, and commands and mail template names complete."""

from __future__ import annotations

from typer.testing import CliRunner

from svcconsole.cli.main import app


def complete(words: str) -> list[str]:
    """What bash completion offers for the last word of `words`."""
    env = {"_SVCCONSOLE_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    result = CliRunner().invoke(app, [], env=env, prog_name="svcconsole")
    assert result.exit_code == 0, result.stdout
    return result.stdout.split()


def test_the_help_offers_install_completion():
    shown = CliRunner().invoke(app, ["--help"], prog_name="svcconsole")
    assert "--install-completion" in shown.stdout and "--show-completion" in shown.stdout


def test_commands_options_and_template_names_complete():
    assert complete("svcconsole serv") == ["services", "servers"]
    assert complete("svcconsole notify pre") == ["preview"]
    assert complete("svcconsole notify preview re") == ["reconcile_drift", "renewal_invoice"]
    assert "--all" in complete("svcconsole invoices list --")
