"""HubSpot webhook request signatures (crm-api-notes §7.1): v3 to sign and verify, v1/v2 to check.

v3 is ``base64(HMAC-SHA256(client_secret, METHOD + URI + body + timestamp_ms))`` where the URI is
the full URL (scheme, host, path, query) with ``%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B``
decoded. A v3 request is only trusted within 5 minutes of its ``X-HubSpot-Request-Timestamp``
(epoch milliseconds); we also refuse timestamps that far in the *future* (the SDK does not),
because a receiver's clock skew should never let a replay window grow.

Connectors reuse ``verify_v3`` for leadbridge's own HubSpot webhook receiver; the sandbox uses
``sign_v3`` to sign what it delivers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Mapping

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
MAX_AGE_MS = 300_000

_DECODE = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


def decode_uri(uri: str) -> str:
    """Decode exactly the percent-escapes HubSpot decodes before signing (others stay encoded)."""
    return _DECODE.sub(lambda match: bytes.fromhex(match.group(1)).decode(), uri)


def sign_v3(client_secret: str, method: str, uri: str, body: bytes | str, timestamp_ms: int | str) -> str:
    """The v3 signature of one request."""
    raw = body.encode() if isinstance(body, str) else body
    message = method.upper().encode() + decode_uri(uri).encode() + raw + str(timestamp_ms).encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_v2(client_secret: str, method: str, uri: str, body: bytes | str) -> str:
    """The legacy v2 signature: ``sha256_hex(secret + METHOD + URI + body)``."""
    raw = body.encode() if isinstance(body, str) else body
    return hashlib.sha256(client_secret.encode() + method.upper().encode() + uri.encode() + raw).hexdigest()


def sign_v1(client_secret: str, body: bytes | str) -> str:
    """The legacy v1 signature: ``sha256_hex(secret + body)``."""
    raw = body.encode() if isinstance(body, str) else body
    return hashlib.sha256(client_secret.encode() + raw).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return ""


def verify_v3(
    client_secret: str,
    method: str,
    uri: str,
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    now_ms: int | None = None,
    max_age_ms: int = MAX_AGE_MS,
) -> bool:
    """True only for a correctly v3-signed request whose timestamp is within ``max_age_ms`` of now.

    ``uri`` is the full URL the request was sent to, as HubSpot saw it (behind a proxy, rebuild it
    from the public scheme and host). Header names are matched case-insensitively. The signature
    comparison is constant-time.
    """
    stamp = _header(headers, TIMESTAMP_HEADER).strip()
    signature = _header(headers, SIGNATURE_HEADER).strip()
    if not stamp.isdigit() or not signature:
        return False
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - int(stamp)) > max_age_ms:
        return False
    expected = sign_v3(client_secret, method, uri, body, stamp)
    return hmac.compare_digest(expected.encode(), signature.encode())
