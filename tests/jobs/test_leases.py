"""Leases: one holder at a time, and a lease dies with its holder (even on SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from leadbridge.core.store.database import Database
from leadbridge.sync.leases import lease


def test_given_a_held_lease_then_a_second_caller_is_refused_until_it_is_released(database: Database) -> None:
    with lease(database, "poll:home") as first:
        assert first is True
        with lease(database, "poll:home") as second:
            assert second is False
        with lease(database, "poll:other") as other:
            assert other is True
    with lease(database, "poll:home") as again:
        assert again is True


def test_given_a_holder_process_when_it_is_killed_then_the_lease_is_free_at_once(database: Database) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from leadbridge.core.store.database import Database
                from leadbridge.sync.leases import lease
                with lease(Database({database.url!r}), "poll:home") as held:
                    print("held" if held else "refused", flush=True)
                    time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with lease(database, "poll:home") as while_alive:
            assert while_alive is False
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 10
        freed = False
        while not freed and time.monotonic() < deadline:
            with lease(database, "poll:home") as held:
                freed = held
            time.sleep(0.05)
        assert freed, "the killed holder's lease was not released"
    finally:
        holder.kill()
        holder.wait(10)
