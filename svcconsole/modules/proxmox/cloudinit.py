"""The VM's cloud-init login: a user and a generated password, written to the cloud-init drive.

Only a VM whose config holds a cloud-init drive (`ide2: ...:vm-N-cloudinit`) gets one. The user
is the product's `ciuser`, else the template's, else `DEFAULT_USER`; the password goes in
`cipassword` (PVE stores it hashed and masks it when the config is read), then
`PUT .../cloudinit` regenerates the drive. The guest applies it at its next boot (cloud-init
runs again when its settings change), so a new password on a running VM needs a restart.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from svcconsole.modules.base import Credentials
from svcconsole.modules.proxmox.api import Api

DEFAULT_USER = "admin"
PASSWORD_BYTES = 15
DRIVE_KEY = re.compile(r"^(ide|scsi|sata|virtio)\d+$")


def has_cloudinit_drive(vm_config: dict[str, Any]) -> bool:
    return any("cloudinit" in str(value) for key, value in vm_config.items() if DRIVE_KEY.match(key))


def set_login(api: Api, node: str, vmid: int, product_config: dict[str, Any], operation: str) -> Credentials | None:
    """Write a user and a new password to the VM's cloud-init drive; None when it has no drive."""
    vm_config = api.call("GET", f"/nodes/{node}/qemu/{vmid}/config", operation) or {}
    if not has_cloudinit_drive(vm_config):
        return None
    user = str(product_config.get("ciuser") or vm_config.get("ciuser") or DEFAULT_USER)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    api.call("PUT", f"/nodes/{node}/qemu/{vmid}/config", operation, data={"ciuser": user, "cipassword": password})
    api.call("PUT", f"/nodes/{node}/qemu/{vmid}/cloudinit", operation)
    return Credentials(user, password)
