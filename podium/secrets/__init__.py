"""Secrets by reference, and their redaction from every sink.

A workflow file or a tool names a secret by reference, ``env:NAME`` or ``file:PATH#key`` (a
YAML, JSON or dotenv file), never by value. `Secret.resolve` reads the value where a tool or a
model provider needs it and registers it; from then on `redact` replaces the value, and its
base64, URL-encoded and JSON-escaped forms, by ``[secret:NAME]``. The one journal writer redacts
every event before the store sees it, tracing redacts span attributes, and the apps add
`RedactingFilter` to their log handlers. Values under 8 characters are not redacted. An OS
keyring is not supported (no well-kept library for it is a dependency).
"""

from podium.secrets._logging import RedactingFilter, install
from podium.secrets._ref import Secret
from podium.secrets._registry import (
    MIN_LENGTH,
    contains_secret,
    forget_all,
    redact,
    redact_struct,
    redact_text,
    register,
    registered_labels,
)

__all__ = [
    "MIN_LENGTH",
    "RedactingFilter",
    "Secret",
    "contains_secret",
    "forget_all",
    "install",
    "redact",
    "redact_struct",
    "redact_text",
    "register",
    "registered_labels",
]
