"""Prometheus metrics: what the process counts itself, plus database state read at scrape time.

Rules:
- counters and histograms live in this process (API calls and errors by connection, task latency
  by step and outcome); connectors call ``record_api_call`` once per HTTP call they make;
- state (leads by state, offer age, outbox depth and age) is read from the database when scraped
  (``DatabaseCollector``), so every process serving ``/metrics`` reports the same truth and a
  restarted worker loses nothing;
- label values are names of connections, steps, states and targets — never a lead's data.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from leadbridge.core.store.database import Database
from leadbridge.ops.snapshot import take_snapshot

REGISTRY = CollectorRegistry(auto_describe=True)

API_CALLS = Counter(
    "leadbridge_api_calls", "HTTP calls made to external systems", ["connection"], registry=REGISTRY
)
API_ERRORS = Counter(
    "leadbridge_api_errors",
    "Failed HTTP calls to external systems, by kind (retriable, rate_limited, session, fatal, ...)",
    ["connection", "kind"],
    registry=REGISTRY,
)
TASK_SECONDS = Histogram(
    "leadbridge_task_seconds",
    "Wall time of one background step",
    ["step", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
SPEED_TO_LEAD = Histogram(
    "leadbridge_speed_to_lead_seconds",
    "Time from a lead's intake to its offer being delivered to the partner",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900),
    registry=REGISTRY,
)


def record_api_call(connection: str, error_kind: str | None = None) -> None:
    """Count one HTTP call to ``connection``; ``error_kind`` names the failure, if it failed."""
    API_CALLS.labels(connection).inc()
    if error_kind is not None:
        API_ERRORS.labels(connection, error_kind).inc()


class DatabaseCollector(Collector):
    """Reads lead, offer and outbox state from the database on every scrape."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        snap = take_snapshot(self.database)
        leads = GaugeMetricFamily("leadbridge_leads", "Leads by lifecycle state", labels=["state"])
        for state, count in sorted(snap.leads_by_state.items()):
            leads.add_metric([state], count)
        yield leads
        yield GaugeMetricFamily(
            "leadbridge_offers_pending", "Offers waiting for a partner", snap.offers_pending
        )
        yield GaugeMetricFamily(
            "leadbridge_offer_oldest_pending_age_seconds",
            "Age of the oldest pending offer (0 when none)",
            snap.oldest_pending_offer_age_s or 0.0,
        )
        depth = GaugeMetricFamily(
            "leadbridge_outbox_rows", "Outbox rows by target and status", labels=["target", "status"]
        )
        age = GaugeMetricFamily(
            "leadbridge_outbox_oldest_waiting_age_seconds",
            "Age of the oldest outbox row not yet delivered, by target (0 when none)",
            labels=["target"],
        )
        for name, target in sorted(snap.outbox.items()):
            for status, count in sorted(target.by_status.items()):
                depth.add_metric([name, status], count)
            age.add_metric([name], target.oldest_waiting_age_s or 0.0)
        yield depth
        yield age
        last = GaugeMetricFamily(
            "leadbridge_last_sync_timestamp_seconds",
            "Unix time of the last successful poll, by connection",
            labels=["connection"],
        )
        for connection, stamp in sorted(snap.last_sync.items()):
            if stamp is not None:
                last.add_metric([connection], stamp.timestamp())
        yield last
        if snap.last_sweep_age_s is not None:
            yield GaugeMetricFamily(
                "leadbridge_reconcile_sweep_age_seconds",
                "Seconds since the reconcile loop last swept (alert when it grows)",
                snap.last_sweep_age_s,
            )
            yield GaugeMetricFamily(
                "leadbridge_reconcile_oldest_due_age_seconds",
                "At the last sweep: how long the oldest due item had been waiting",
                snap.oldest_due_age_s or 0.0,
            )


def exposition(database: Database | None) -> tuple[bytes, str]:
    """The metrics page: this process's counters plus, with a database, its state at this moment."""
    registry = REGISTRY
    if database is not None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_ProcessMetrics())
        registry.register(DatabaseCollector(database))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ProcessMetrics(Collector):
    """This process's own counters, re-exposed inside a per-scrape registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
