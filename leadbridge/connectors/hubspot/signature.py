"""Verifying HubSpot's v3 webhook signature with the vendor SDK's own formula (crm-api-notes §7.1).

The signature is ``base64(HMAC-SHA256(client_secret, METHOD + URI + body + timestamp_ms))``; HubSpot
decodes a fixed set of percent-escapes in the URI before signing. The HMAC comes from
``hubspot.utils.signature.Signature`` (the SDK), not from the sandbox's signer, so the tests sign
with one implementation and verify with another: a shared bug cannot make both agree.
"""

from __future__ import annotations

import hmac
import re

from hubspot.utils.signature import Signature

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
MAX_AGE_MS = 300_000

# The escapes HubSpot's documentation lists as decoded before signing; others stay encoded.
_DECODED_ESCAPES = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


def signed_uri(uri: str) -> str:
    """The URI exactly as HubSpot signs it."""
    return _DECODED_ESCAPES.sub(lambda match: bytes.fromhex(match.group(1)).decode(), uri)


def v3_matches(
    client_secret: str, method: str, uri: str, body: bytes, timestamp: str, signature: str
) -> bool:
    """True when ``signature`` is the v3 signature of this request (constant-time comparison).

    A body that is not UTF-8 cannot have been signed by HubSpot (it sends JSON), so it never matches.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    expected = Signature.get_signature(
        client_secret, text, "v3", http_uri=signed_uri(uri), http_method=method.upper(), timestamp=timestamp
    )
    return hmac.compare_digest(expected.encode(), signature.encode())
