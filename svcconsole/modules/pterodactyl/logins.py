"""The customer's panel user: found or made (with a generated password), and its password reset.

A customer has one panel user per panel (its `external_id` is `svcconsole-customer-{id}`), so
every service of theirs on that panel shares the login. The password is known only when this
module set it: when it made the user, and on `change_password` (PATCH /users/{id}, which asks
for email, username, first and last name again, as the panel's user rules require).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from svcconsole.modules.base import Credentials, CustomerRef
from svcconsole.modules.pterodactyl.api import Api, error_from_response, source_fields
from svcconsole.modules.pterodactyl.attributes import names_of, username_for

PASSWORD_BYTES = 15
"""A generated password: 15 random bytes, 20 URL-safe characters."""


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


@dataclass(frozen=True)
class PanelUser:
    """A panel user, with the password set just now when this module made it."""

    id: int
    username: str
    password: str | None = field(default=None, repr=False)

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.username, self.password)


def panel_user(api: Api, customer: CustomerRef, operation: str) -> PanelUser:
    """The customer's panel user: by external id, else by email, else made with a new password."""
    external_id = f"svcconsole-customer-{customer.id}"
    for attempt in range(3):
        response = api.app("GET", f"/users/external/{external_id}", operation, allow=(404,))
        if response.status_code == 200:
            found = response.json()["attributes"]
            return PanelUser(int(found["id"]), str(found.get("username") or ""))
        body = api.app("GET", "/users", operation, params={"filter[email]": customer.email}).json()
        for entry in body.get("data", []):
            if str(entry["attributes"].get("email", "")).lower() == customer.email.lower():
                return PanelUser(int(entry["attributes"]["id"]), str(entry["attributes"].get("username") or ""))
        first_name, last_name = names_of(customer)
        username = username_for(customer) if attempt == 0 else f"svc{customer.id}-{secrets.token_hex(3)}"
        password = new_password()
        created = api.app(
            "POST",
            "/users",
            operation,
            allow=(422,),
            json={
                "external_id": external_id,
                "email": customer.email,
                "username": username,
                "first_name": first_name,
                "last_name": last_name,
                "password": password,
            },
        )
        if created.status_code != 422:
            attributes = created.json()["attributes"]
            return PanelUser(int(attributes["id"]), str(attributes.get("username") or username), password)
        if not source_fields(created) & {"email", "external_id", "username"}:
            raise error_from_response(created, operation)
    raise api.error(operation, f"could not find or create the panel user for {customer.email}", retryable=True, code="conflict")


def user_by_id(api: Api, user_id: int, operation: str) -> PanelUser:
    attributes = api.app("GET", f"/users/{int(user_id)}", operation).json()["attributes"]
    return PanelUser(int(attributes["id"]), str(attributes.get("username") or ""))


def set_new_password(api: Api, user_id: int, operation: str) -> PanelUser:
    """Give the panel user a new generated password (its other fields sent back as they are)."""
    attributes = api.app("GET", f"/users/{int(user_id)}", operation).json()["attributes"]
    password = new_password()
    body = {key: attributes.get(key) for key in ("email", "username", "first_name", "last_name")}
    api.app("PATCH", f"/users/{int(user_id)}", operation, json={**body, "password": password})
    return PanelUser(int(attributes["id"]), str(attributes.get("username") or ""), password)
