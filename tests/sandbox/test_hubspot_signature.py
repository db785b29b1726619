"""HubSpot webhook signatures: the official test vectors, URI decoding, age window, forgery."""

from __future__ import annotations

import pytest
from hubspot.utils.signature import Signature

from leadbridge.sandbox.hubspot.signature import decode_uri, sign_v1, sign_v2, sign_v3, verify_v3

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
BODY = "{'example_field':'example_value'}"
URI = "https://www.example.com/webhook_uri"
TS = 15000000


def test_given_official_vectors_when_signing_then_every_version_matches():
    assert sign_v3(SECRET, "POST", URI, BODY, TS) == "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
    assert (
        sign_v2(SECRET, "POST", URI, BODY)
        == "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
    )
    assert sign_v1(SECRET, BODY) == "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"
    assert (
        sign_v2(SECRET, "GET", URI, "") == "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    )


def test_given_vector_headers_when_verifying_within_five_minutes_then_accepted():
    headers = {"x-hubspot-signature-v3": "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=",
               "X-HubSpot-Request-Timestamp": str(TS)}  # fmt: skip
    assert verify_v3(SECRET, "POST", URI, BODY, headers, now_ms=TS + 299_000)
    assert not verify_v3(SECRET, "POST", URI, BODY, headers, now_ms=TS + 300_001), "older than 5 min"
    assert not verify_v3(SECRET, "POST", URI, BODY, headers, now_ms=TS - 300_001), "from the future"


@pytest.mark.parametrize(
    "change",
    [
        {"secret": "other-secret"},
        {"body": BODY.replace("value", "VALUE")},
        {"method": "PUT"},
        {"uri": URI + "?x=1"},
        {"timestamp": str(TS + 1)},
    ],
)
def test_given_any_changed_input_when_verifying_then_forgery_rejected(change):
    good = sign_v3(SECRET, "POST", URI, BODY, TS)
    args = {"secret": SECRET, "method": "POST", "uri": URI, "body": BODY, "timestamp": str(TS)}
    args.update(change)
    headers = {"X-HubSpot-Signature-v3": good, "X-HubSpot-Request-Timestamp": args["timestamp"]}
    assert not verify_v3(args["secret"], args["method"], args["uri"], args["body"], headers, now_ms=TS)


def test_given_missing_or_non_numeric_headers_when_verifying_then_rejected():
    good = sign_v3(SECRET, "POST", URI, BODY, TS)
    assert not verify_v3(SECRET, "POST", URI, BODY, {"X-HubSpot-Signature-v3": good}, now_ms=TS)
    headers = {"X-HubSpot-Signature-v3": good, "X-HubSpot-Request-Timestamp": "15000.0"}
    assert not verify_v3(SECRET, "POST", URI, BODY, headers, now_ms=TS)


def test_given_encoded_uri_when_signing_then_hubspot_escapes_are_decoded_before_hmac():
    encoded = "https://example.com/hook%3Fa%3Db%40c%2Fd%20e"
    assert decode_uri(encoded) == "https://example.com/hook?a%3Db@c/d%20e"  # %3D, %20 are not listed
    assert sign_v3(SECRET, "POST", encoded, BODY, TS) == sign_v3(
        SECRET, "POST", decode_uri(encoded), BODY, TS
    )


def test_given_sdk_signature_when_verifying_then_ours_agrees_with_hubspot_sdk():
    ts = 1_700_000_000_000
    ours = sign_v3(SECRET, "POST", URI, BODY, ts)
    theirs = Signature.get_signature(SECRET, BODY, "v3", URI, "POST", str(ts))
    assert ours == theirs
