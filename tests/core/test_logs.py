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
