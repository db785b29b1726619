"""What travels through the connector verbs: changes and keyset checkpoints, write items and results,
and the vendor error table.

Rules:
- a checkpoint is a keyset ``(stamp, id)``; reads use ``>=`` on the stamp and drop records at or
  before the checkpoint's keyset, so rows sharing a stamp are neither lost nor read twice;
- every vendor failure goes through an ``ErrorTable`` that maps ``(status, code)`` to one of
  retry / refresh session / stop for quota / skip the record / fatal, with a message for the admin;
- a write never raises for one bad record: its ``WriteResult`` carries the error and the action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from leadbridge.core.errors import (
    FatalConnectorError,
    LeadbridgeError,
    QuotaExhausted,
    RetriableError,
    SessionExpired,
    SkipRecord,
)


class WebhookRejected(LeadbridgeError):
    """A webhook delivery failed verification: answer 401 and take nothing in."""


class WebhookMalformed(WebhookRejected):
    """A verified delivery whose body is not what the system sends (e.g. not an array of event
    objects): answer 400 and take nothing in."""


class Action(StrEnum):
    """What the caller does next with a failure."""

    RETRY = "retry"
    REFRESH_SESSION = "refresh_session"
    STOP_QUOTA = "stop_quota"
    SKIP = "skip"
    FATAL = "fatal"


@dataclass(frozen=True)
class ErrorRule:
    """One row of a vendor error table: ``status``/``code`` ``None`` match anything."""

    status: int | None
    code: str | None
    action: Action
    message: str


@dataclass(frozen=True)
class ErrorTable:
    """``(status, code) → action``: the first rule matching both wins; unknown 5xx retry, 4xx skip."""

    vendor: str
    rules: tuple[ErrorRule, ...]

    def classify(self, status: int | None, code: str | None) -> ErrorRule:
        for rule in self.rules:
            if (rule.status is None or rule.status == status) and (rule.code is None or rule.code == code):
                return rule
        if status is None or status >= 500 or status == 429:
            return ErrorRule(status, code, Action.RETRY, f"{self.vendor} had a transient failure")
        return ErrorRule(status, code, Action.SKIP, f"{self.vendor} refused the record")

    def error_for(
        self, status: int | None, code: str | None, detail: str, retry_after: float | None = None
    ) -> LeadbridgeError:
        """The leadbridge exception that tells the caller what to do with this failure."""
        rule = self.classify(status, code)
        # Only the parts that are known: "Pipedrive 401: …", never "Pipedrive 401 : …".
        head = " ".join(str(part) for part in (self.vendor, status or None, code) if part)
        text = f"{head}: {rule.message} ({detail})"
        error = self._error_of(rule.action, text, retry_after)
        error.status = status
        return error

    @staticmethod
    def _error_of(action: Action, text: str, retry_after: float | None) -> LeadbridgeError:
        match action:
            case Action.RETRY:
                return RetriableError(text, retry_after=retry_after)
            case Action.REFRESH_SESSION:
                return SessionExpired(text)
            case Action.STOP_QUOTA:
                return QuotaExhausted(text)
            case Action.SKIP:
                return SkipRecord(text)
        return FatalConnectorError(text)


STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # trimmed to milliseconds by ``format_stamp``


def format_stamp(moment: datetime) -> str:
    """The one stamp format checkpoints use (UTC, milliseconds), so string order is time order."""
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)[:-4] + "Z"


def parse_stamp(stamp: str) -> datetime:
    text = stamp.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 → +00:00
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True, order=True)
class Checkpoint:
    """How far a stream has been read: the last ``(stamp, id)`` keyset taken in.

    ``recent`` lists the keysets already taken in within the lookback window before ``stamp``: a
    re-read of that window (for rows committed late with an older stamp) skips exactly those.
    """

    stamp: str
    id: str
    recent: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def is_before(self, stamp: str, record_id: str) -> bool:
        """True when ``(stamp, record_id)`` comes after this checkpoint (i.e. not yet read)."""
        return (stamp, record_id) > (self.stamp, self.id)

    def read_from(self, lookback: timedelta) -> str:
        """The stamp a ``>=`` read starts at: the checkpoint minus the lookback."""
        return format_stamp(parse_stamp(self.stamp) - lookback)


@dataclass(frozen=True)
class Change:
    """One record version read from a stream (``deleted`` for a deletion)."""

    stream: str
    external_id: str
    stamp: str
    record: Mapping[str, Any]
    deleted: bool = False

    @property
    def keyset(self) -> Checkpoint:
        return Checkpoint(self.stamp, self.external_id)


class WriteOp(StrEnum):
    """What a write does to its record: ``write`` creates/updates/upserts per the stream; ``delete``
    removes the record ``external_id`` (erasure, GDPR Art. 17) — deleting a record that is already
    gone succeeds, so a retried erasure settles."""

    WRITE = "write"
    DELETE = "delete"


@dataclass(frozen=True)
class WriteItem:
    """One record to write: ``key`` identifies it to the caller (e.g. the outbox row's coalesce key)."""

    key: str
    fields: Mapping[str, Any]
    external_id: str | None = None  # the remote record id, when updating (or deleting) by id
    op: WriteOp = WriteOp.WRITE


@dataclass(frozen=True)
class WriteResult:
    key: str
    ok: bool
    remote_id: str | None = None
    created: bool = False
    error: str | None = None
    action: Action | None = None


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamInfo:
    """An object a connector can read/write, declared as small data."""

    name: str
    primary_key: str
    cursor_field: str
    fields: tuple[str, ...] = ()


def after_checkpoint(
    changes: Sequence[Change], since: Checkpoint | None, lookback_from: str | None = None
) -> list[Change]:
    """The changes not yet taken in, each keyset once, in keyset order.

    Kept: keysets after the checkpoint, and keysets inside the lookback window (stamp ≥
    ``lookback_from``) that the checkpoint's ``recent`` does not list — rows committed late with an
    older stamp. This is the de-duplication that makes ``>=`` reads with a lookback safe.
    """
    recent = set(since.recent) if since else set()
    seen: set[tuple[str, str]] = set()
    kept: list[Change] = []
    for change in sorted(changes, key=lambda c: (c.stamp, c.external_id)):
        key = (change.stamp, change.external_id)
        if key in seen or key in recent:
            continue
        late = lookback_from is not None and change.stamp >= lookback_from
        if since is not None and not since.is_before(*key) and not late:
            continue
        seen.add(key)
        kept.append(change)
    return kept


def advance(since: Checkpoint | None, taken: Sequence[Change], lookback: timedelta) -> Checkpoint | None:
    """The checkpoint after taking in ``taken``: the highest keyset, and the window's keysets."""
    keys = [(c.stamp, c.external_id) for c in taken]
    if since is not None:
        keys += [(since.stamp, since.id), *since.recent]
    if not keys:
        return since
    top = max(keys)
    floor = format_stamp(parse_stamp(top[0]) - lookback)
    recent = tuple(sorted({key for key in keys if key[0] >= floor}))
    return Checkpoint(top[0], top[1], recent)
