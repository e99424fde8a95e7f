"""The operations log masks every secret svcconsole has encrypted or decrypted."""

import logging

from svcconsole.core import logs, secrets


def test_secrets_are_masked_in_messages_arguments_and_tracebacks(tmp_path, monkeypatch):
    monkeypatch.setenv(secrets.SECRET_KEY_ENV, "bGVuZ3RoLW9mLXRoaXMta2V5LWlzLTMyLWJ5dGVzISE=")
    secrets.configure(None)
    path = logs.configure(tmp_path / "ops.log")
    stored = secrets.encrypt("tok-SUPERSECRET-42")
    assert secrets.decrypt(stored) == "tok-SUPERSECRET-42"
    logger = logging.getLogger("svcconsole.test")
    logger.info("calling with %s", "tok-SUPERSECRET-42")
    try:
        raise RuntimeError("bad token tok-SUPERSECRET-42")
    except RuntimeError:
        logger.exception("failed")
    for handler in logging.getLogger("svcconsole").handlers:
        handler.flush()
    text = path.read_text()
    assert "tok-SUPERSECRET-42" not in text
    assert text.count(logs.MASK) >= 2 and "calling with" in text and "RuntimeError" in text
    assert path.stat().st_mode & 0o777 == 0o600
    logs.configure(tmp_path / "other.log")


def test_every_registered_secret_of_four_or_more_characters_is_masked_but_never_inside_a_word(monkeypatch):
    monkeypatch.setattr(logs, "_secrets", set())
    monkeypatch.setattr(logs, "_pattern", None)
    for secret in ("pass", "select", "k", "p@ss!", "LONG-token-value-1234", "open sesame to"):
        logs.register_secret(secret)
    assert logs.redact("login key=pass 'pass' pass") == f"login key={logs.MASK} '{logs.MASK}' {logs.MASK}"
    assert logs.redact("password bypass passes") == "password bypass passes"
    assert logs.redact("selection: select 1") == f"selection: {logs.MASK} 1"
    assert logs.redact("keep k, kk") == "keep k, kk"
    assert logs.redact("p@ss! or xp@ss!") == f"{logs.MASK} or xp@ss!"
    assert logs.redact("Bearer LONG-token-value-1234 and xLONG-token-value-1234x") == f"Bearer {logs.MASK} and x{logs.MASK}x"
    assert logs.redact("open sesame to the cave") == f"{logs.MASK} the cave"
    assert logs.redact("sesame seeds, open door, go to") == f"{logs.MASK} seeds, {logs.MASK} door, go to"
