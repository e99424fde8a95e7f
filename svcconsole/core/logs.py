"""The operations log: a rotating file in the user log dir with every module call, job and
automation step, written 0600, with every known secret masked before a line is written.

Masking rules: a secret (or a space-separated part of one) of `MIN_MASKED` characters or more
is masked; one of fewer than `ANYWHERE_LENGTH` only where it stands alone, never inside a
longer word ("pass" is masked in "key=pass" but not in "password"), so a short credential cannot
blank ordinary text. A value shorter than `MIN_MASKED` (a part such as "a" or "to") would mask
words everywhere and hides nothing a guess would not find, so it is not masked.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path

from svcconsole.store.engine import user_log_dir

LOG_FILE_NAME = "operations.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
MASK = "********"
MIN_MASKED = 4
ANYWHERE_LENGTH = 12

_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()
_handler: RotatingFileHandler | None = None


def register_secret(value: str | None) -> None:
    """Mask `value` (and each of its space-separated parts) wherever it would be logged."""
    global _pattern
    if not value:
        return
    with _lock:
        added = {part for part in {value, *value.split()} if len(part) >= MIN_MASKED} - _secrets
        if added:
            _secrets.update(added)
            _pattern = None


def _secret_pattern(secret: str) -> str:
    """A secret as a pattern: anywhere when long, else not touching a letter or digit on either side."""
    escaped = re.escape(secret)
    if len(secret) >= ANYWHERE_LENGTH:
        return escaped
    before = r"(?<![^\W_])" if secret[0].isalnum() else ""
    after = r"(?![^\W_])" if secret[-1].isalnum() else ""
    return before + escaped + after


def _compiled() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None and _secrets:
            longest_first = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(_secret_pattern(secret) for secret in longest_first))
        return _pattern


def redact(text: str) -> str:
    """`text` with every registered secret masked (see the module docstring for the rules)."""
    pattern = _compiled()
    return pattern.sub(MASK, text) if pattern is not None else text


class RedactingFilter(logging.Filter):
    """Renders the record's message with secrets masked (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(message), None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class _PrivateRotatingFileHandler(RotatingFileHandler):
    """Opens each log file (rotated ones too) readable by its owner only."""

    def _open(self) -> TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(self.baseFilename, 0o600)
        return os.fdopen(fd, self.mode.replace("w", "a") if "b" not in self.mode else self.mode, encoding=self.encoding)  # type: ignore[return-value]  # a text mode; typeshed cannot tell from a computed mode string


LOG_FILE_ENV = "SVCCONSOLE_LOG_FILE"


def log_path() -> Path:
    """`SVCCONSOLE_LOG_FILE`, else operations.log in the user log dir."""
    override = os.environ.get(LOG_FILE_ENV)
    return Path(override) if override else user_log_dir() / LOG_FILE_NAME


def configure(path: Path | None = None, level: int = logging.INFO) -> Path:
    """Send the `svcconsole` loggers to the operations log (once per process)."""
    global _handler
    target = path or log_path()
    with _lock:
        if _handler is not None and _handler.baseFilename == str(target.resolve()):
            return target
        logger = logging.getLogger("svcconsole")
        if _handler is not None:
            logger.removeHandler(_handler)
            _handler.close()
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = _PrivateRotatingFileHandler(target, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        logger.addHandler(handler)
        logger.setLevel(level)
        _handler = handler
    return target
