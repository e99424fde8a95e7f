"""A VM's addresses and history on the Proxmox sandbox: the guest agent's interfaces, cloud-init's
`ipconfig` when the agent cannot answer, and `rrddata` read into the panel history's series.

The raw answers are read with proxmoxer (a client written by nobody here), so the adapter's
reading is compared with the API's own figures, not with the adapter's arithmetic."""

from __future__ import annotations

import dataclasses

import pytest
from proxmoxer import ResourceException

from svcconsole.modules import ModuleError, get_module
from svcconsole.modules.sandbox import ProxmoxSandbox
from tests.modules.test_third_party_clients import proxmox_client

from .conftest import ServiceFactory

module = get_module("proxmox")


def delivered(factory: ServiceFactory):  # type: ignore[no-untyped-def]
    service = factory()
    return dataclasses.replace(service, external=module.create(service).external)


def test_the_panel_lists_the_guest_agents_routable_addresses(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service = delivered(vps_service)
    vmid = service.external["vmid"]
    interfaces = proxmox_client(pve, pve.ca_file).nodes("pve1").qemu(vmid).agent("network-get-interfaces").get()["result"]
    eth0 = next(interface for interface in interfaces if interface["name"] == "eth0")
    ipv4 = next(entry for entry in eth0["ip-addresses"] if entry["ip-address-type"] == "ipv4")

    state = module.panel(service)

    assert state.addresses == [f"eth0 {ipv4['ip-address']}/{ipv4['prefix']}"], "loopback and link-local addresses are left out"
    assert state.details["addresses from"] == "guest agent"


def test_without_a_running_agent_the_addresses_come_from_cloud_init_and_say_why(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service = delivered(vps_service)
    vmid = service.external["vmid"]
    pve.vms[vmid].config["ipconfig0"] = "ip=192.0.2.10/24,gw=192.0.2.1"
    pve.vms[vmid].config["ipconfig1"] = "ip=dhcp,ip6=2001:db8::10/64"
    pve.set_guest_agent(vmid, False)

    state = module.panel(service)

    assert state.addresses == ["net0 192.0.2.10/24", "net1 2001:db8::10/64"]
    assert state.details["addresses from"] == "cloud-init (QEMU guest agent is not running)"
    with pytest.raises(ResourceException) as refused:
        proxmox_client(pve, pve.ca_file).nodes("pve1").qemu(vmid).agent("network-get-interfaces").get()
    assert refused.value.status_code == 500


def test_a_stopped_vm_or_one_without_the_agent_configured_is_told_apart(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service = delivered(vps_service)
    vmid = service.external["vmid"]
    module.power(service, "stop")
    assert module.panel(service).details["addresses from"] == f"cloud-init (VM {vmid} is not running)"
    module.power(service, "start")
    del pve.vms[vmid].config["agent"]
    assert module.panel(service).details["addresses from"] == "cloud-init (No QEMU guest agent configured)"


def test_a_token_without_vm_monitor_still_reads_the_state_and_the_configured_addresses(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service = delivered(vps_service)
    pve.vms[service.external["vmid"]].config["ipconfig0"] = "ip=198.51.100.7/25"
    auditor = "auditor@pve!audit=0b6a7ad5-2f0f-4b8e-9a7e-3b2f1c0d9e8f"
    pve.add_token(auditor, read_only=True)
    server = dataclasses.replace(service.server, credentials=auditor)

    state = module.panel(dataclasses.replace(service, server=server))

    assert state.status == "running"
    assert state.addresses == ["net0 198.51.100.7/25"]
    assert "VM.Monitor" in state.details["addresses from"]


@pytest.mark.parametrize(("span", "step"), [("hour", 60), ("day", 1800), ("week", 10800)])
def test_the_history_holds_the_rrd_points_of_the_span_in_percent_bytes_and_bytes_per_second(
    pve: ProxmoxSandbox, vps_service: ServiceFactory, span: str, step: int
) -> None:
    pve.clock = lambda: 1_800_000_123
    service = delivered(vps_service)
    raw = proxmox_client(pve, pve.ca_file).nodes("pve1").qemu(service.external["vmid"]).rrddata.get(timeframe=span, cf="AVERAGE")

    history = module.history(service, span)

    assert (history.span, history.step_seconds, len(history.times)) == (span, step, len(raw))
    assert history.times == sorted(point["time"] for point in raw)
    by_time = {point["time"]: point for point in raw}
    assert history.series["cpu"] == [pytest.approx(by_time[at]["cpu"] * 100) for at in history.times]
    assert history.series["memory"] == [by_time[at]["mem"] for at in history.times]
    assert history.series["network in"] == [by_time[at]["netin"] for at in history.times]
    assert history.series["network out"] == [by_time[at]["netout"] for at in history.times]


def test_rrddata_needs_a_time_frame_from_the_real_enumeration(pve: ProxmoxSandbox, vps_service: ServiceFactory) -> None:
    service = delivered(vps_service)
    rrd = proxmox_client(pve, pve.ca_file).nodes("pve1").qemu(service.external["vmid"]).rrddata
    with pytest.raises(ResourceException) as missing:
        rrd.get()
    assert missing.value.status_code == 400 and "timeframe" in missing.value.errors
    with pytest.raises(ResourceException) as wrong:
        rrd.get(timeframe="decade")
    assert wrong.value.status_code == 400
    with pytest.raises(ModuleError) as refused:
        module.history(service, "decade")
    assert refused.value.code == "invalid"
