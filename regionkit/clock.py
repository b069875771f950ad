"""The time as regionkit writes it in records: UTC, whole seconds, ISO 8601 with a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
