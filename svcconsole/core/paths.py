"""Where svcconsole keeps the files an admin edits: the config directory."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CONFIG_DIR_ENV = "SVCCONSOLE_CONFIG_DIR"


def config_dir() -> Path:
    """`$SVCCONSOLE_CONFIG_DIR`, else the user config directory (platformdirs: ~/.config/svcconsole on Linux)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir("svcconsole", appauthor=False))
