"""A planted credential never reaches any output or the operations log; the log records the work."""

import json

from svcconsole.core import logs


def test_a_planted_credential_appears_nowhere(cli, db, panels, tmp_path, monkeypatch):
    log_file = tmp_path / "operations.log"
    monkeypatch.setenv(logs.LOG_FILE_ENV, str(log_file))
    planted = "ptla_PLANTEDsecretVALUE0123456789abcdef"
    panels.ptero.application_keys.append(planted)
    cli("servers", "edit", "ptero-1", "--credentials", f"{planted} {panels.ptero.client_key}")
    texts = []

    def run(*args, **kwargs):
        result = cli(*args, **kwargs)
        texts.append(result.stdout + result.stderr)
        return result

    created = run(
        "services", "create", "--customer", "greta@example.com", "--name", "scan", "--product", "Paper 4GB", "--server", "ptero-1", "--deliver", "-f", "json"
    )
    service_id = json.loads(created.stdout)["id"]
    panels.ptero.fail_next("POST /api/application/servers/*/suspension", "500")
    run("services", "suspend", str(service_id))
    panels.ptero.application_keys.remove(planted)
    run("services", "unsuspend", str(service_id))
    run("servers", "test", "ptero-1")
    for args in (
        ("servers", "list", "-f", "json"),
        ("servers", "list", "-f", "csv"),
        ("servers", "show", "ptero-1", "-f", "json"),
        ("services", "show", str(service_id), "-f", "json"),
        ("services", "history", str(service_id), "-f", "json"),
        ("jobs", "list", "-f", "json"),
        ("services", "panel", str(service_id), "-f", "json"),
        ("settings", "list"),
    ):
        run(*args)
    assert planted not in "\n".join(texts)
    with db.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT credentials FROM server WHERE name = 'ptero-1'").scalar()
    assert planted not in stored and stored.startswith("fernet:")

    log = log_file.read_text()
    assert planted not in log
    assert "POST" in log and "/api/application/servers" in log
    assert "suspend" in log and "failed" in log
    assert log_file.stat().st_mode & 0o777 == 0o600
