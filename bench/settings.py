"""Connection settings through the registry: what building the registry and validating a
configuration cost (every entry point loads settings once; a few call sites build the registry on
demand until the runtime hands them its own).

Printed: ``default_registry()`` per call (kinds already imported), ``load_settings`` of a file with
N connections (half Salesforce, half HubSpot, with ``_env`` secrets), and the same file with one
misspelt key (the error with file:line is built from the YAML's node marks).

    .venv/bin/python bench/settings.py [--connections 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import ConfigError


def _config(count: int, *, typo: bool) -> str:
    lines = ["database_url: sqlite:///bench.db", "connections:"]
    for n in range(count):
        if n % 2:
            lines += [f"  hs{n}:", "    kind: hubspot", "    role: partner", f"    partner_id: P{n}",
                      "    access_token_env: BENCH_TOKEN", "    poll_seconds: 120"]  # fmt: skip
        else:
            lines += [f"  sf{n}:", "    kind: salesforce", "    role: partner", f"    partner_id: P{n}",
                      f"    username: u{n}@example.org", "    password_env: BENCH_TOKEN",
                      "    instance_url: https://p.my.salesforce.com"]  # fmt: skip
    if typo:
        lines.insert(len(lines) - 1, "    usrname: oops")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args()
    os.environ["BENCH_TOKEN"] = "secret-value"
    default_registry()  # imports the shipped kinds once
    runs, per_registry = 1000, float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(runs):
            default_registry()
        per_registry = min(per_registry, (time.perf_counter() - started) / runs * 1e6)
    with tempfile.TemporaryDirectory() as directory:
        good, bad = Path(directory) / "good.yaml", Path(directory) / "bad.yaml"
        good.write_text(_config(args.connections, typo=False))
        bad.write_text(_config(args.connections, typo=True))
        registry = default_registry()
        load_ms, error_ms = [], []
        for _ in range(5):  # best of five: the machine is shared
            started = time.perf_counter()
            settings = registry.load_settings(good)
            load_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            try:
                registry.load_settings(bad)
                message = "no error?"
            except ConfigError as error:
                message = str(error)
            error_ms.append((time.perf_counter() - started) * 1000)
    print(f"default_registry(): {per_registry:.1f} µs per call ({len(list(registry))} kinds)")
    print(f"load_settings, {len(settings.connections)} connections: {min(load_ms):.1f} ms (best of 5)")
    print(f"load_settings with one misspelt key: {min(error_ms):.1f} ms -> {message[:110]}…")


if __name__ == "__main__":
    main()
