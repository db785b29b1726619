"""Every hard filter, table-driven: the excluding filter is reported, and the partner passes otherwise."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from leadbridge.core.matching import History, match
from leadbridge.core.performance import PartnerStats, finish
from leadbridge.core.policy import Performance
from tests.matching.helpers import NOW, lead, partner, policy, rng

# (case, partner overrides, lead overrides, history, stats, expected filter or None, detail part)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, str], dict[str, Any], str | None, str]] = [
    ("active partner passes", {}, {}, {}, {}, None, ""),
    ("inactive", {"active": False}, {}, {}, {}, "availability", "inactive"),
    (
        "paused",
        {"availability": {"paused_until": NOW + timedelta(days=1)}},
        {},
        {},
        {},
        "availability",
        "paused",
    ),
    ("pause over", {"availability": {"paused_until": NOW - timedelta(hours=1)}}, {}, {}, {}, None, ""),
    ("holiday", {"availability": {"holidays": [NOW.date()]}}, {}, {}, {}, "availability", "holiday"),
    ("declined before", {"id": "P-x"}, {}, {"P-x": "declined"}, {}, "history", "already declined"),
    ("returned before", {"id": "P-x"}, {}, {"P-x": "returned"}, {}, "history", "already returned"),
    ("other country", {"territory": {"countries": ["AT"]}}, {}, {}, {}, "territory", "country DE"),
    ("prefix match", {"territory": {"countries": ["DE"], "postal_prefixes": ["80"]}}, {}, {}, {}, None, ""),
    (
        "prefix miss",
        {"territory": {"countries": ["DE"], "postal_prefixes": ["81", "9"]}},
        {},
        {},
        {},
        "territory",
        "postal code 80331",
    ),
    (
        "range hit",
        {"territory": {"countries": ["DE"], "postal_ranges": [{"start": "80000", "end": "80999"}]}},
        {},
        {},
        {},
        None,
        "",
    ),
    (
        "range miss",
        {"territory": {"countries": ["DE"], "postal_ranges": [{"start": "81000", "end": "81999"}]}},
        {},
        {},
        {},
        "territory",
        "outside",
    ),
    (
        "radius hit (Augsburg, 60 km)",
        {"territory": {"radii": [{"latitude": 48.37, "longitude": 10.9, "km": 60}]}},
        {},
        {},
        {},
        None,
        "",
    ),
    (
        "radius miss (Augsburg, 40 km)",
        {"territory": {"radii": [{"latitude": 48.37, "longitude": 10.9, "km": 40}]}},
        {},
        {},
        {},
        "territory",
        "",
    ),
    ("no consent", {}, {"consent": {"share_with_partners": False}}, {}, {}, "consent", "consented"),
    (
        "scope none",
        {},
        {"consent": {"share_with_partners": True, "scope": {"share": "none"}}},
        {},
        {},
        "consent",
        "consented",
    ),
    ("scope any", {}, {"consent": {"scope": {"share": "any"}}}, {}, {}, None, ""),
    (
        "scope tier in",
        {"tier": "gold"},
        {"consent": {"scope": {"share": "classes", "tiers": ["Gold"]}}},
        {},
        {},
        None,
        "",
    ),
    (
        "scope tier out",
        {"tier": "silver"},
        {"consent": {"scope": {"share": "classes", "tiers": ["gold"]}}},
        {},
        {},
        "consent",
        "tier gold only",
    ),
    (
        "scope country and tag",
        {"location_country": "AT", "tags": ["Installer"]},
        {"consent": {"scope": {"share": "classes", "countries": ["AT"], "tags": ["installer"]}}},
        {},
        {},
        None,
        "",
    ),
    (
        "scope tag out",
        {"location_country": "AT", "tags": ["retail"]},
        {"consent": {"scope": {"share": "classes", "countries": ["AT"], "tags": ["installer"]}}},
        {},
        {},
        "consent",
        "tag installer",
    ),
    (
        "scope named in",
        {"id": "P-x"},
        {"consent": {"scope": {"share": "partners", "partners": ["P-x"]}}},
        {},
        {},
        None,
        "",
    ),
    (
        "scope named by external id",
        {"external_id": "PA-77"},
        {"consent": {"scope": {"share": "partners", "partners": ["PA-77"]}}},
        {},
        {},
        None,
        "",
    ),
    (
        "scope named out",
        {},
        {"consent": {"scope": {"share": "partners", "partners": ["P-other"]}}},
        {},
        {},
        "consent",
        "1 named partner",
    ),
    ("product missing", {"product_lines": ["boilers"]}, {}, {}, {}, "product_line", "heat_pumps"),
    (
        "one of two products",
        {"product_lines": ["heat_pumps"]},
        {"product_interests": ["heat_pumps", "batteries"]},
        {},
        {},
        "product_line",
        "batteries",
    ),
    ("certification too low", {"certifications": []}, {}, {}, {}, "certification", "level 0 < 1"),
    (
        "certification expired",
        {"certifications": [{"name": "heat_pumps", "level": 3, "expires": date(2026, 1, 1)}]},
        {},
        {},
        {},
        "certification",
        "level 0",
    ),
    ("segment mismatch", {"segments": ["enterprise"]}, {"employees": 40}, {}, {}, "segment", "smb"),
    ("segment open", {"segments": []}, {"employees": 4000}, {}, {}, None, ""),
    (
        "open leads at cap",
        {"capacity": {"max_open": 2}},
        {},
        {},
        {"open_leads": 2},
        "capacity",
        "open and pending leads 2/2",
    ),
    (
        "pending offers count toward the cap",
        {"capacity": {"max_open": 2}},
        {},
        {},
        {"open_leads": 1, "pending": 1},
        "capacity",
        "open and pending leads 2/2",
    ),
    ("daily cap", {"capacity": {"per_day": 3}}, {}, {}, {"today": 3}, "capacity", "leads today 3/3"),
    ("weekly cap", {"capacity": {"per_week": 5}}, {}, {}, {"this_week": 5}, "capacity", "this week"),
    ("monthly cap", {"capacity": {"per_month": 9}}, {}, {}, {"this_month": 9}, "capacity", "this month"),
    ("under cap", {"capacity": {"max_open": 3}}, {}, {}, {"open_leads": 2}, None, ""),
    (
        "account of another partner",
        {},
        {"account_id": "ACC-1"},
        {},
        {},
        "account_owner",
        "owned by P-owner",
    ),
]


# The table runs with a certification minimum (the default policy has none: see below).
CERTIFYING = policy(filters={"certification": {"min_level": 1}})


@pytest.mark.parametrize(
    ("p_over", "l_over", "barred", "counts", "expected", "detail"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_given_a_partner_when_matched_then_the_right_filter_decides(
    p_over: dict, l_over: dict, barred: dict, counts: dict, expected: str | None, detail: str
) -> None:
    candidate = partner(**{"id": "P-x", **p_over})
    owner = partner("P-owner", owned_accounts=["ACC-1"], territory={"countries": ["AT"]})
    stats = {"P-x": finish(PartnerStats("P-x", **counts), Performance())}
    decision = match(
        lead(**l_over),
        [candidate, owner],
        CERTIFYING,
        stats,
        now=NOW,
        rng=rng(),
        history=History(barred=barred),
        explain=True,
    )
    excluded = {e.partner_id: e for e in decision.excluded}
    if expected is None:
        assert decision.best == "P-x"
        assert "P-x" not in excluded
    else:
        assert decision.candidate("P-x") is None
        assert excluded["P-x"].filter == expected
        assert detail in excluded["P-x"].detail
        # the fast path must agree with the explained one
        fast = match(
            lead(**l_over), [candidate, owner], CERTIFYING, stats, now=NOW, rng=rng(), history=History(barred)
        )
        assert fast.candidate("P-x") is None


def test_given_the_language_filter_on_when_partner_lacks_the_language_then_excluded() -> None:
    decision = match(
        lead(language="fr"),
        [partner("P-x")],
        policy(filters={"language": True}),
        {},
        now=NOW,
        rng=rng(),
        explain=True,
    )
    assert [(e.filter, e.detail) for e in decision.excluded] == [("language", "does not speak fr")]
    off = match(lead(language="fr"), [partner("P-x")], policy(), {}, now=NOW, rng=rng())
    assert off.best == "P-x"


def test_given_any_product_policy_when_one_product_carried_then_passes() -> None:
    both = lead(product_interests=["heat_pumps", "batteries"])
    strict = match(both, [partner("P-x")], policy(), {}, now=NOW, rng=rng())
    lenient = match(
        both, [partner("P-x")], policy(filters={"product_line": {"require": "any"}}), {}, now=NOW, rng=rng()
    )
    assert strict.best is None and lenient.best == "P-x"


def test_given_a_filter_switched_off_when_matched_then_it_excludes_nobody() -> None:
    no_consent = lead(consent={"share_with_partners": False})
    assert match(no_consent, [partner("P-x")], policy(), {}, now=NOW, rng=rng()).best is None
    assert (
        match(no_consent, [partner("P-x")], policy(filters={"consent": False}), {}, now=NOW, rng=rng()).best
        == "P-x"
    )


def test_given_a_weak_tier_capacity_multiplier_when_matched_then_the_cap_shrinks() -> None:
    weak = finish(PartnerStats("P-x", offers=20, won=0, lost=20, open_leads=5), Performance())
    assert weak.tier == "weak"
    p = partner("P-x", capacity={"max_open": 10})
    base = policy()
    halved = policy(performance={"tiers": {"weak": {"capacity_multiplier": 0.5}}})
    assert match(lead(), [p], base, {"P-x": weak}, now=NOW, rng=rng()).best == "P-x"
    decision = match(lead(), [p], halved, {"P-x": weak}, now=NOW, rng=rng(), explain=True)
    assert decision.excluded[0].detail == "open and pending leads 5/5"


def test_given_a_pause_date_without_zone_when_matched_then_it_counts_as_utc() -> None:
    paused = partner("P-x", availability={"paused_until": "2026-11-24"})  # as a CSV import gives it
    decision = match(lead(), [paused], policy(), {}, now=NOW, rng=rng(), explain=True)
    assert decision.excluded[0].filter == "availability"
    assert "2026-11-24T00:00:00+00:00" in decision.excluded[0].detail


def test_given_uncertified_partners_when_the_default_policy_routes_then_they_get_leads() -> None:
    uncertified = partner("P-x", certifications=[])
    assert match(lead(), [uncertified], policy(), {}, now=NOW, rng=rng()).best == "P-x"
    assert match(lead(), [uncertified], CERTIFYING, {}, now=NOW, rng=rng()).best is None


# Munich partner: Germany plus a 130 km radius. Nuremberg is 151 km away, Salzburg (AT) 115 km.
MUNICH_AREA = {"countries": ["DE"], "radii": [{"latitude": 48.14, "longitude": 11.58, "km": 130}]}
NUREMBERG = {"postal_code": "90402", "country": "DE", "latitude": 49.45, "longitude": 11.08}
AUGSBURG = {"postal_code": "86150", "country": "DE", "latitude": 48.37, "longitude": 10.9}
SALZBURG_NEAR = {"postal_code": "83395", "country": "DE", "latitude": 47.79, "longitude": 12.9}


@pytest.mark.parametrize(
    ("address", "radius", "allowed"),
    [
        (AUGSBURG, "narrow", True),
        (NUREMBERG, "narrow", False),  # in Germany but beyond the radius: the radius narrows
        (NUREMBERG, "widen", True),  # the policy may say a radius widens instead
        ({"postal_code": "90402", "country": "DE"}, "narrow", False),  # placed by its code: Nuremberg
        ({"country": "DE"}, "narrow", True),  # no location at all: the area decides
        ({"postal_code": "5020", "country": "AT", "latitude": 47.8, "longitude": 13.04}, "narrow", False),
        ({"postal_code": "5020", "country": "AT", "latitude": 47.8, "longitude": 13.04}, "widen", True),
        (SALZBURG_NEAR, "narrow", True),
    ],
)
def test_given_a_country_and_a_radius_when_matched_then_the_radius_narrows_unless_the_policy_widens(
    address: dict, radius: str, allowed: bool
) -> None:
    munich = partner("P-x", territory=MUNICH_AREA)
    pol = policy(filters={"territory": {"radius": radius}})
    decision = match(lead(address=address), [munich], pol, {}, now=NOW, rng=rng(), explain=True)
    assert (decision.best == "P-x") is allowed
    fast = match(lead(address=address), [munich], pol, {}, now=NOW, rng=rng())
    assert (fast.best == "P-x") is allowed
    if not allowed and address is NUREMBERG:
        assert decision.excluded[0].detail == "inside its area but outside its radius"


def test_given_stock_when_required_then_only_partners_with_the_lines_in_stock() -> None:
    stocked = partner("P-stock", products_in_stock=["heat_pumps"], location_latitude=48.5)
    empty = partner("P-empty", products_in_stock=[])
    required = policy(filters={"product_line": {"stock": "require"}})
    decision = match(lead(), [stocked, empty], required, {}, now=NOW, rng=rng(), explain=True)
    assert [c.partner_id for c in decision.candidates] == ["P-stock"]
    assert decision.excluded[0].detail == "does not have heat_pumps in stock"
    assert match(lead(), [empty], required, {}, now=NOW, rng=rng()).best is None
    ignored = policy(filters={"product_line": {"stock": "ignore"}})
    assert match(lead(), [empty], ignored, {}, now=NOW, rng=rng()).best == "P-empty"


def test_given_stock_preferred_by_default_when_otherwise_equal_then_the_stocked_partner_wins() -> None:
    stocked = partner("P-b", products_in_stock=["heat_pumps"])
    empty = partner("P-a", products_in_stock=[])
    decision = match(lead(), [empty, stocked], policy(), {}, now=NOW, rng=rng(), explain=True)
    assert decision.best == "P-b"
    assert (
        decision.candidate("P-b").contributions["stock"]
        > 0
        == decision.candidate("P-a").contributions["stock"]
    )  # type: ignore[union-attr]
