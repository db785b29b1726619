"""Matching: pure partner selection (``match``), its Decision, the partner index and the modes."""

from leadbridge.core.matching.decision import Candidate, Channel, Decision, Excluded
from leadbridge.core.matching.index import PartnerIndex
from leadbridge.core.matching.match import History, build_index, channel_rule, history_from_offers, match

__all__ = [
    "Candidate",
    "Channel",
    "Decision",
    "Excluded",
    "History",
    "PartnerIndex",
    "build_index",
    "channel_rule",
    "history_from_offers",
    "match",
]
