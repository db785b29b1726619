"""A controllable per-org clock, so tests can make several records share one modification stamp."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def _to_ms(moment: datetime) -> datetime:
    """Truncate to milliseconds: the precision Salesforce keeps for SystemModstamp."""
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


class Clock:
    """Real UTC time by default; ``freeze()`` pins it, ``advance()`` moves it, ``unfreeze()`` lets go.

    ``now()`` is always aware UTC with millisecond precision.
    """

    def __init__(self, frozen_at: datetime | None = None) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta(0)
        self._lock = threading.Lock()
        if frozen_at is not None:
            self.freeze(frozen_at)

    def now(self) -> datetime:
        """The current (or frozen) time: aware UTC, millisecond precision."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return _to_ms(datetime.now(UTC) + self._offset)

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop time at ``at`` (default: now); every record written meanwhile shares that stamp."""
        moment = _to_ms((at or self.now()).astimezone(UTC))
        with self._lock:
            self._frozen = moment
        return moment

    def advance(self, seconds: float) -> datetime:
        """Move time forward (frozen or not) and return the new now."""
        with self._lock:
            step = timedelta(seconds=seconds)
            if self._frozen is not None:
                self._frozen = _to_ms(self._frozen + step)
            else:
                self._offset += step
        return self.now()

    def unfreeze(self) -> None:
        """Run again from the frozen moment (kept as an offset, so time never jumps backwards)."""
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - datetime.now(UTC)
                self._frozen = None

    def reset(self) -> None:
        """Back to real time: no freeze, no offset (time may jump backwards)."""
        with self._lock:
            self._frozen = None
            self._offset = timedelta(0)

    @property
    def frozen(self) -> bool:
        """True while time is frozen."""
        return self._frozen is not None
