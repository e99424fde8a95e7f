"""Where svcconsole keeps the admin's own files: the user config directory.

`SVCCONSOLE_CONFIG_DIR` wins; otherwise platformdirs' `user_config_dir("svcconsole")`
(`~/.config/svcconsole` on Linux). Mail template overrides live under `templates/mail/<locale>/`.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_dir

CONFIG_DIR_ENV = "SVCCONSOLE_CONFIG_DIR"


def config_dir() -> Path:
    """The user config directory (it may not exist yet)."""
    override = os.environ.get(CONFIG_DIR_ENV, "").strip()
    return Path(override).expanduser() if override else Path(user_config_dir("svcconsole"))
