"""A VM's addresses and recorded figures: the guest agent's interfaces (else cloud-init's
`ipconfig`), and `rrddata` over an hour, a day or a week.

PVE answers 500 when it cannot ask the guest agent ("No QEMU guest agent configured", "VM N is
not running", "QEMU guest agent is not running"); the addresses then come from the config's
`ipconfigN` lines, which hold what cloud-init was told to set (DHCP says nothing).
"""

from __future__ import annotations

import ipaddress
import re
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from svcconsole.modules.base import HISTORY_SPANS, ModuleError, PanelHistory, UsageReading
from svcconsole.modules.proxmox.api import Api, message_of

IPCONFIG = re.compile(r"^ipconfig(\d+)$")
RRD_FIELDS = {"cpu": "cpu", "memory": "mem", "network in": "netin", "network out": "netout"}
"""Each history series and the `rrddata` field it is read from."""


def guest_addresses(api: Api, node: str, vmid: int, operation: str) -> tuple[list[str], str]:
    """The VM's addresses and where they come from ("guest agent" or "cloud-init"); none when
    neither names one. Loopback and link-local addresses are left out."""
    response = api.raw("GET", f"/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces", operation, allow=(500, 403))
    if response.status_code == 200:
        found: list[str] = []
        for interface in (response.json().get("data") or {}).get("result") or []:
            for entry in interface.get("ip-addresses") or []:
                text = f"{entry.get('ip-address')}/{entry.get('prefix')}"
                if _routable(str(entry.get("ip-address"))):
                    found.append(f"{interface.get('name')} {text}")
        return found, "guest agent"
    config = api.config(node, vmid, operation) or {}
    configured = []
    for key in sorted(config, key=lambda name: int(m.group(1)) if (m := IPCONFIG.match(name)) else -1):
        if IPCONFIG.match(key):
            for part in str(config[key]).split(","):
                name, _, value = part.partition("=")
                if name in ("ip", "ip6") and value not in ("dhcp", "auto", "manual", ""):
                    configured.append(f"net{key.removeprefix('ipconfig')} {value}")
    why = message_of(response) if response.status_code == 500 else "no VM.Monitor privilege to ask the guest agent"
    return configured, f"cloud-init ({why})"


def _routable(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (parsed.is_loopback or parsed.is_link_local)


def history(api: Api, node: str, vmid: int, span: str, operation: str) -> PanelHistory:
    """The VM's cpu (%), memory (bytes) and network (bytes/s) over `span`, from `rrddata`."""
    if span not in HISTORY_SPANS:
        raise ModuleError(f"{operation}: unknown span {span!r}; use one of {', '.join(HISTORY_SPANS)}", retryable=False, code="invalid")
    points: list[dict[str, Any]] = list(api.call("GET", f"/nodes/{node}/qemu/{vmid}/rrddata", operation, params={"timeframe": span, "cf": "AVERAGE"}) or [])
    points.sort(key=lambda point: int(point.get("time") or 0))
    series: dict[str, list[float | None]] = {name: [] for name in RRD_FIELDS}
    for point in points:
        for name, key in RRD_FIELDS.items():
            value = point.get(key)
            number = float(value) if isinstance(value, (int, float)) else None
            series[name].append(number * 100 if name == "cpu" and number is not None else number)
    times = [int(point.get("time") or 0) for point in points]
    step = times[1] - times[0] if len(times) > 1 else 0
    return PanelHistory(span=span, step_seconds=step, times=times, series=series)


TIMEFRAME_REACH = (("hour", 3600), ("day", 86400), ("week", 7 * 86400), ("month", 35 * 86400), ("year", 490 * 86400))
"""Each `rrddata` time frame and how far back its 70 points reach (PVE keeps 1 min, 30 min,
3 h, 12 h and 7 day steps)."""
GB = Decimal(10) ** 9


def traffic_gb(api: Api, node: str, vmid: int, start: datetime, end: datetime, operation: str) -> UsageReading:
    """The VM's network traffic in and out, in GB, from `start` to now (at most `end`): the
    `rrddata` points of the smallest time frame that reaches back to `start`, each point's
    `netin` + `netout` (bytes per second, averaged) times its step."""
    now = time.time()
    since, until = start.timestamp(), min(end.timestamp(), now)
    timeframe = next((name for name, reach in TIMEFRAME_REACH if now - since <= reach), TIMEFRAME_REACH[-1][0])
    points: list[dict[str, Any]] = list(
        api.call("GET", f"/nodes/{node}/qemu/{vmid}/rrddata", operation, params={"timeframe": timeframe, "cf": "AVERAGE"}) or []
    )
    points.sort(key=lambda point: int(point.get("time") or 0))
    times = [int(point.get("time") or 0) for point in points]
    step = times[1] - times[0] if len(times) > 1 else 60
    total = Decimal(0)
    for at, point in zip(times, points, strict=True):
        if since <= at < until:
            rate = sum((Decimal(str(point.get(key))) for key in ("netin", "netout") if isinstance(point.get(key), (int, float))), Decimal(0))
            total += rate * step
    return UsageReading("traffic_gb", (total / GB).quantize(Decimal("0.001")), "total")
