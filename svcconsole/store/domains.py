"""Domain names of services: the form a person typed, and its ASCII (punycode) form.

A service's `domain` is stored as given (`bücher.example`); `domain_ascii` holds its IDNA
form (`xn--bcher-kva.example`), lowercased, so both are searchable. The model keeps
`domain_ascii` in step on every insert and update.
"""

from __future__ import annotations

import idna

MAX_LENGTH = 253
MAX_LABEL = 63


def ascii_form(domain: str) -> str:
    """The IDNA (punycode) form of a host name, lowercased; ValueError when it is not one.

    Accepts UTS #46 input (upper case, full-width dots), a trailing dot and ASCII labels; needs
    at least two labels (`example.com`, not `localhost`).
    """
    value = domain.strip().rstrip(".")
    if not value or "." not in value.replace("。", ".").replace("．", "."):
        raise ValueError("a host name with at least two labels, such as example.com")
    try:
        encoded = idna.encode(value, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as error:
        raise ValueError(f"not a host name ({error})") from None
    if len(encoded) > MAX_LENGTH:
        raise ValueError(f"longer than {MAX_LENGTH} characters in its ASCII form")
    labels = encoded.split(".")
    if any(not label or len(label) > MAX_LABEL for label in labels):
        raise ValueError(f"each label is 1 to {MAX_LABEL} characters")
    if labels[-1].isdigit():
        raise ValueError("an IP address or a numeric top-level label is not a domain")
    return encoded


def ascii_or_none(domain: str | None) -> str | None:
    """`ascii_form` for a stored domain; None for no domain (or one stored before validation)."""
    if not domain:
        return None
    try:
        return ascii_form(domain)
    except ValueError:
        return domain.strip().lower()


def search_words(domain: str | None) -> str:
    """What the free-text search finds a domain by: as given and in its ASCII form."""
    if not domain:
        return ""
    ascii_value = ascii_or_none(domain) or ""
    given = domain.strip().lower()
    return given if given == ascii_value else f"{given} {ascii_value}"


def ascii_term(term: str) -> str:
    """A search term in the ASCII form domains are stored in (`bücher` -> `xn--bcher-kva`), else as given."""
    value = term.strip().lower()
    if value.isascii():
        return value
    try:
        return idna.encode(value, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        return value
