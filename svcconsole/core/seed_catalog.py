"""The demo's fixed data: customer names, the catalog of products and prices, and the servers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from svcconsole.core import clock
from svcconsole.modules.base import demo_server_url
from svcconsole.store.models import Product, ProductPrice, Server

FIRST_NAMES = (
    "Alice",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kenji",
    "Lea",
    "Mateo",
    "Nora",
    "Oskar",
    "Paula",
    "Quentin",
    "Rosa",
    "Sven",
    "Talia",
    "Umar",
    "Vera",
    "Wim",
    "Yara",
    "Zoé",
    "Amir",
    "Bianca",
    "Camille",
    "Diego",
    "Emma",
    "Felix",
    "Hanna",
    "Ivan",
    "Julia",
    "Karim",
    "Lucas",
    "Maya",
)
LAST_NAMES = (
    "Martin",
    "Bernard",
    "Dubois",
    "Schmidt",
    "Müller",
    "Rossi",
    "Garcia",
    "Novak",
    "Kowalski",
    "Jensen",
    "Smith",
    "Silva",
    "Costa",
    "Laurent",
    "Fischer",
    "Weber",
    "Moreau",
    "Petit",
    "Nielsen",
    "Horvat",
    "Yilmaz",
    "Ivanova",
    "Tanaka",
    "Okafor",
    "Haddad",
    "Lindqvist",
    "Fontaine",
    "Keller",
    "Romano",
    "Leroy",
)
COMPANIES = ("Pixel Forge", "Nordlicht GmbH", "Blocky Realms", "Atelier Web", "CraftNet", "Hosting Club", None, None, None)
WORDS = ("alpha", "nova", "forge", "realm", "peak", "delta", "orbit", "craft", "nexus", "vault", "ember", "lumen", "atlas", "echo")

CATALOG: tuple[dict[str, Any], ...] = (
    {
        "name": "Web Hosting Starter",
        "type": "manual",
        "prices": {"monthly": "4.99", "annually": "49.90"},
        "config": {"disk_gb": 10},
        "upgrade": ["Web Hosting Pro"],
    },
    {
        "name": "Web Hosting Pro",
        "type": "manual",
        "prices": {"monthly": "9.99", "quarterly": "28.50", "annually": "99.90"},
        "config": {"disk_gb": 50},
        "upgrade": [],
    },
    {
        "name": "Minecraft Paper 2GB",
        "type": "pterodactyl",
        "prices": {"monthly": "6.00", "quarterly": "17.00"},
        "config": {"nest": 1, "egg": 1, "memory": 2048, "disk": 10240, "cpu": 100, "databases": 1, "backups": 2, "allocations": 1},
        "upgrade": ["Minecraft Paper 4GB"],
    },
    {
        "name": "Minecraft Paper 4GB",
        "type": "pterodactyl",
        "prices": {"monthly": "12.00", "quarterly": "34.00", "semiannually": "66.00"},
        "config": {"nest": 1, "egg": 1, "memory": 4096, "disk": 20480, "cpu": 200, "databases": 2, "backups": 3, "allocations": 1},
        "upgrade": ["Minecraft Paper 8GB"],
    },
    {
        "name": "Minecraft Paper 8GB",
        "type": "pterodactyl",
        "prices": {"monthly": "22.00", "annually": "240.00"},
        "config": {"nest": 1, "egg": 1, "memory": 8192, "disk": 40960, "cpu": 400, "databases": 3, "backups": 5, "allocations": 2},
        "upgrade": [],
    },
    {
        "name": "Rust Server",
        "type": "pterodactyl",
        "prices": {"weekly": "4.00", "monthly": "15.00"},
        "config": {"nest": 1, "egg": 1, "memory": 6144, "disk": 30720, "cpu": 300, "databases": 0, "backups": 2, "allocations": 1},
        "upgrade": [],
    },
    {
        "name": "VPS S",
        "type": "proxmox",
        "prices": {"monthly": "5.00", "annually": "50.00", "biennially": "95.00"},
        "config": {"template": 9000, "cores": 1, "memory": 1024},
        "upgrade": ["VPS M"],
    },
    {
        "name": "VPS M",
        "type": "proxmox",
        "prices": {"monthly": "10.00", "annually": "100.00", "triennially": "270.00"},
        "config": {"template": 9000, "cores": 2, "memory": 4096},
        "upgrade": ["VPS L"],
    },
    {
        "name": "VPS L",
        "type": "proxmox",
        "prices": {"monthly": "20.00", "semiannually": "114.00"},
        "config": {"template": 9000, "cores": 4, "memory": 8192},
        "upgrade": [],
    },
    {"name": "SSL Certificate", "type": "manual", "prices": {"annually": "15.00", "onetime": "25.00"}, "config": {}, "upgrade": []},
    {"name": "Support Hours", "type": "manual", "prices": {"free": "0.00"}, "config": {}, "upgrade": []},
)

SERVERS: tuple[dict[str, Any], ...] = (
    {"name": "shared-fra-1", "module": "manual", "url": "https://shared-fra-1.example.net", "node": "fra"},
    {"name": "shared-ams-1", "module": "manual", "url": "https://shared-ams-1.example.net", "node": "ams"},
    {"name": "ptero-fra-1", "module": "pterodactyl", "url": demo_server_url("ptero-fra-1"), "node": "1"},
    {"name": "ptero-waw-1", "module": "pterodactyl", "url": demo_server_url("ptero-waw-1"), "node": "1"},
    {"name": "pve-fra-1", "module": "proxmox", "url": demo_server_url("pve-fra-1"), "node": "pve1"},
)
PANEL_SERVERS = tuple(spec["name"] for spec in SERVERS if spec["module"] != "manual")
"""The demo's panel servers: demo servers (no panel behind them, every module call refused with
what to do) until `svcconsole demo` points them at its sandboxes or an admin at a panel."""


def ensure_catalog(session: Session) -> tuple[list[Product], dict[int, list[ProductPrice]], list[Server]]:
    """The demo catalog's products (with their prices by product id) and servers, each added when its name is not there yet."""
    now = clock.now()
    products = {product.name: product for product in session.execute(select(Product)).scalars()}
    for spec in CATALOG:
        if spec["name"] in products:
            continue
        product = Product(name=spec["name"], type=spec["type"], config=spec["config"], upgrade_targets=[], created_at=now)
        session.add(product)
        session.flush()
        for cycle, amount in spec["prices"].items():
            session.add(ProductPrice(product_id=product.id or 0, billing_cycle=cycle, price=Decimal(amount), currency="EUR"))
        products[spec["name"]] = product
    for spec in CATALOG:
        product = products[spec["name"]]
        if not product.upgrade_targets and spec["upgrade"]:
            product.upgrade_targets = [products[name].id for name in spec["upgrade"]]
            session.add(product)
    servers = {server.name: server for server in session.execute(select(Server)).scalars()}
    for spec in SERVERS:
        if spec["name"] not in servers:
            server = Server(name=spec["name"], module=spec["module"], url=spec["url"], node=spec["node"], capacity=5000, config={}, created_at=now)
            session.add(server)
            servers[spec["name"]] = server
    session.flush()
    prices: dict[int, list[ProductPrice]] = {}
    for price in session.execute(select(ProductPrice)).scalars():
        prices.setdefault(price.product_id, []).append(price)
    return list(products.values()), prices, list(servers.values())
