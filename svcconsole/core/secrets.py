"""Encryption at rest for server credentials and secret settings (Fernet).

The key comes from `SVCCONSOLE_SECRET_KEY`, else a 0600 key file beside the SQLite file (or in
the user data dir for PostgreSQL), created on first use. A key file that others may read or
write is refused rather than repaired: it may already have been copied, and the admin should
know before chmod-ing it back.
"""

from __future__ import annotations

import importlib
import os
import stat
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, overload

from svcconsole.core.errors import SvcError
from svcconsole.core.logs import register_secret

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

SECRET_KEY_ENV = "SVCCONSOLE_SECRET_KEY"
PREFIX = "fernet:"

_key_file: Path | None = None
_fernet: Fernet | None = None


def configure(key_file: Path | None) -> None:
    """Use `key_file` for the key when the environment does not give one."""
    global _key_file, _fernet
    _key_file = key_file
    _fernet = None


def key_file() -> Path | None:
    return _key_file


def _fernet_module() -> ModuleType:
    """`cryptography.fernet`, imported on the first secret read or written.

    Why: most commands never touch a secret, and cryptography is a large import for a CLI call.
    """
    return importlib.import_module("cryptography.fernet")


def _load_key() -> bytes:
    from_env = os.environ.get(SECRET_KEY_ENV)
    if from_env:
        return from_env.strip().encode()
    if _key_file is None:
        raise SvcError("secrets: no key: set SVCCONSOLE_SECRET_KEY or open a database first")
    if not _key_file.exists():
        _key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(_key_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_fernet_module().Fernet.generate_key())
    _refuse_open_mode(_key_file)
    return _key_file.read_bytes().strip()


def _refuse_open_mode(path: Path) -> None:
    """Refuse a key file with any group or other permission bit (0600 or 0400 are accepted)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SvcError(
            f"secrets: the key file {path} has mode {mode:04o} (group or others may use it); run `chmod 600 {path}` (and consider whether the key was copied)"
        )


def _cipher() -> Fernet:
    global _fernet
    if _fernet is None:
        try:
            _fernet = _fernet_module().Fernet(_load_key())
        except ValueError:
            raise SvcError("secrets: the key is not a valid Fernet key (32 url-safe base64 bytes)") from None
    return _fernet


@overload
def encrypt(plaintext: str) -> str: ...
@overload
def encrypt(plaintext: None) -> None: ...
def encrypt(plaintext: str | None) -> str | None:
    if plaintext is None or plaintext == "":
        return plaintext
    register_secret(plaintext)
    return PREFIX + _cipher().encrypt(plaintext.encode()).decode()


def decrypt(stored: str | None) -> str | None:
    if stored is None or not stored.startswith(PREFIX):
        return stored
    cipher = _cipher()
    try:
        plaintext = cipher.decrypt(stored[len(PREFIX) :].encode()).decode()
    except _fernet_module().InvalidToken:
        raise SvcError("secrets: a stored secret cannot be decrypted with this key (wrong SVCCONSOLE_SECRET_KEY or key file)") from None
    register_secret(plaintext)
    return plaintext
