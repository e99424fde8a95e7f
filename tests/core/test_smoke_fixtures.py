"""The fixtures give a working database and CLI."""

from tests.conftest import new_service


def test_cli_lists_a_created_service(cli, db, admin, catalog):
    service_id = new_service(db, admin, catalog, name="first")
    result = cli("services", "list", "--format", "ids")
    assert result.exit_code == 0
    assert result.lines == [str(service_id)]
