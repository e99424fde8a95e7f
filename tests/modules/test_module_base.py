"""What every panel module shares from `Module`: a service with no server is refused the same way."""

from __future__ import annotations

import pytest

from svcconsole.modules import CustomerRef, ModuleError, get_module

from .conftest import make_service

NO_SERVER = {
    "pterodactyl": "Pterodactyl: the service has no server",
    "proxmox": "Proxmox VE: the service has no server",
}
"""The message each panel module gives, written out by hand."""


@pytest.mark.parametrize("module_name", sorted(NO_SERVER))
def test_a_service_with_no_server_is_a_configuration_error_never_retried(module_name: str, customer: CustomerRef) -> None:
    service = make_service(None, None, customer, external={"server_id": 1, "vmid": 100, "node": "pve1"})
    for operation in (get_module(module_name).suspend, get_module(module_name).unsuspend):
        with pytest.raises(ModuleError) as raised:
            operation(service)
        assert (raised.value.message, raised.value.code, raised.value.retryable) == (NO_SERVER[module_name], "config", False)
