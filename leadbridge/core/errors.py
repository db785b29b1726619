"""One exception module, grouped by what the caller does next."""

from __future__ import annotations


class LeadbridgeError(Exception):
    """Base of every error leadbridge raises on purpose; its message is meant for a person."""

    # The vendor's HTTP status when a connector call failed (set by ``ErrorTable.error_for``), so
    # callers decide on the status, never on the wording of the message.
    status: int | None = None


class ConfigError(LeadbridgeError):
    """The configuration (files, settings, mappings, policy) is wrong: fix it and run again."""


class NotFound(LeadbridgeError):
    """A lead, partner, offer or connection does not exist (or is not visible to the caller)."""


class IllegalTransition(LeadbridgeError):
    """An event does not apply to the lead's current state."""

    def __init__(self, lead_id: str, state: str | None, event: str, allowed: list[str]) -> None:
        self.lead_id, self.state, self.event = lead_id, state, event
        choices = ", ".join(allowed) or "none"
        super().__init__(
            f"lead {lead_id}: event {event!r} is not allowed in state {state!r} "
            f"(allowed events there: {choices})"
        )


class ConflictError(LeadbridgeError):
    """The change conflicts with the lead's current facts (e.g. another partner already accepted)."""


class FatalConnectorError(LeadbridgeError):
    """Configuration or authentication is wrong for a connection: retrying will not help."""


class RetriableError(LeadbridgeError):
    """A transient failure (5xx, 429, network): retry later with backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SkipRecord(LeadbridgeError):
    """One record cannot be processed; keep it with this reason and go on with the batch."""


class QuotaExhausted(LeadbridgeError):
    """The remote system's API quota is (nearly) used up: stop now, checkpoint saved."""


class SessionExpired(LeadbridgeError):
    """The remote session is no longer valid: refresh it and try once more."""
