"""The metadata keys svcconsole reads, their meaning, and a warning for a key it does not read.

Any key may be stored (order ids, notes for people); only the known ones change what svcconsole
does, and their values are checked by `services.meta_set`. A key that is not known is kept but
warned about, with the known key it most looks like (a typo such as `maxx_renewals`).
"""

from __future__ import annotations

import difflib

from svcconsole.core.lookups import KNOWN_META_KEYS


def meaning(key: str) -> str | None:
    """What a known key does, None for a key svcconsole does not read."""
    return KNOWN_META_KEYS.get(key.strip())


def unknown_key_warning(key: str) -> str | None:
    """A warning for a key svcconsole does not read (None for a known key)."""
    name = key.strip()
    if not name or name in KNOWN_META_KEYS:
        return None
    near = difflib.get_close_matches(name, list(KNOWN_META_KEYS), n=1, cutoff=0.75)
    hint = f"; did you mean {near[0]}?" if near else ""
    return f"{name} is not a key svcconsole reads: it is stored as a note and changes nothing{hint}"


def known_keys_text() -> str:
    """The known keys with their meaning, one per line."""
    return "\n".join(f"{key}: {text}" for key, text in KNOWN_META_KEYS.items())
