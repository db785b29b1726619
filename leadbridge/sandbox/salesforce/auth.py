"""Login flows as simple-salesforce drives them: SOAP login, and OAuth2 token grants
(username-password, JWT bearer with RS256, client credentials). Replies point back at the org.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

import jwt

from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sandbox.server import Request, Response, json_response, text_response

_AUDIENCE = re.compile(r"^https://(login|test|[\w-]+\.my)\.salesforce\.com/?$")
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_XML = "text/xml;charset=UTF-8"


def _soap_fault(code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com">'
        f"<soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}"
        f"</faultstring><detail><sf:LoginFault><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>"
        f"{escape(message)}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body>"
        "</soapenv:Envelope>"
    )
    return text_response(body, 500, _XML)


def _local_values(xml: bytes) -> dict[str, str]:
    """Element text by local (namespace-free) tag name."""
    values = {}
    for element in ET.fromstring(xml).iter():
        values[element.tag.rsplit("}", 1)[-1]] = (element.text or "").strip()
    return values


def soap_login(org: SalesforceOrg, request: Request) -> Response:
    """``POST /services/Soap/u/{ver}``: the password must carry the security token appended."""
    try:
        values = _local_values(request.body)
    except ET.ParseError:
        return _soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
    if values.get("username") != org.username or values.get("password") != org.password + org.security_token:
        return _soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
    version = request.params.get("version", "59.0")
    session = org.issue_session(org.integration_user_id)
    server = f"{org.instance_url}/services/Soap/u/{version}/{org.org_id[:15]}"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>'
        f"<metadataServerUrl>{org.instance_url}/services/Soap/m/{version}/{org.org_id[:15]}</metadataServerUrl>"
        f"<passwordExpired>false</passwordExpired><sandbox>false</sandbox><serverUrl>{server}</serverUrl>"
        f"<sessionId>{session}</sessionId><userId>{org.integration_user_id}</userId><userInfo>"
        f"<organizationId>{org.org_id}</organizationId><userName>{escape(org.username)}</userName>"
        "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return text_response(body, 200, _XML)


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def _token(org: SalesforceOrg, user_id: str) -> Response:
    token = org.issue_session(user_id)
    issued = str(int(time.time() * 1000))
    identity = f"{org.instance_url}/id/{org.org_id}/{user_id}"
    signature = base64.b64encode(
        hmac.new(org.consumer_secret.encode(), (identity + issued).encode(), hashlib.sha256).digest()
    ).decode()
    return json_response(
        {
            "access_token": token,
            "instance_url": org.instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": signature,
            "scope": "api",
        }
    )


def oauth_token(org: SalesforceOrg, request: Request) -> Response:
    """``POST /services/oauth2/token`` for the password, JWT bearer and client-credentials grants."""
    form = request.form()
    grant = form.get("grant_type", "")
    if grant == "password":
        if form.get("client_id") != org.consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != org.consumer_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        password = form.get("password", "")
        if form.get("username") != org.username or password not in (
            org.password,
            org.password + org.security_token,
        ):
            return _oauth_error("invalid_grant", "authentication failure")
        return _token(org, org.integration_user_id)
    if grant == _JWT_GRANT:
        return _jwt_grant(org, form.get("assertion", ""))
    if grant == "client_credentials":
        return _client_credentials(org, request.header("Authorization") or "")
    return _oauth_error("unsupported_grant_type", "grant type not supported")


def _jwt_grant(org: SalesforceOrg, assertion: str) -> Response:
    """Verify an RS256 assertion against the org's configured public key: iss, sub, aud, exp."""
    if not org.jwt_public_key_pem:
        return _oauth_error("invalid_client", "no certificate configured for this connected app")
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            org.jwt_public_key_pem,
            algorithms=["RS256"],
            options={"require": ["exp", "iss", "sub", "aud"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        return _oauth_error("invalid_grant", "expired authorization code")
    except jwt.PyJWTError:
        return _oauth_error("invalid_grant", "invalid assertion")
    if claims["iss"] != org.consumer_key:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    audience = claims["aud"] if isinstance(claims["aud"], str) else ""
    if not (_AUDIENCE.match(audience) or audience.rstrip("/") == org.instance_url):
        return _oauth_error("invalid_grant", "audience is invalid")
    if claims["sub"] != org.username:
        return _oauth_error("invalid_grant", "user hasn't approved this consumer")
    return _token(org, org.integration_user_id)


def _client_credentials(org: SalesforceOrg, authorization: str) -> Response:
    scheme, _, encoded = authorization.partition(" ")
    try:
        key, _, secret = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        key = secret = ""
    if scheme.lower() != "basic" or key != org.consumer_key or secret != org.consumer_secret:
        return _oauth_error("invalid_client", "invalid client credentials")
    if not org.client_credentials_enabled:
        return _oauth_error("invalid_grant", "no client credentials user enabled")
    return _token(org, org.integration_user_id)
