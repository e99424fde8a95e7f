"""Every `services` command other than the read ones, registered on `services_app` in the order `--help` lists them.

The `services` group (`cli.services_read.services_group`) imports this module when a command
other than list, show or history is asked for.
"""

from __future__ import annotations

import svcconsole.cli.billing  # noqa: F401  # registers `services upgrade`
from svcconsole.cli.abuse import services_app
from svcconsole.cli.credentials import add_credentials_command
from svcconsole.cli.panel import statistics_command
from svcconsole.cli.transfers import add_transfer_command

services_app.command("statistics")(statistics_command)
add_transfer_command(services_app)
add_credentials_command(services_app)

__all__ = ["services_app"]
