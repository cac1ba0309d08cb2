"""A module whose import fails, for the "importing module … failed" message."""

raise RuntimeError("boom at import")
