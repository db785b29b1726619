"""``POST /api/data/v9.2/$batch``: ``multipart/mixed`` requests, ``multipart/mixed`` answers.

Rules (Microsoft's "Execute batch operations using the Web API"):
- each part is ``Content-Type: application/http`` holding one request (absolute URL, or a path
  from ``/api/data/v9.2/``); a nested ``multipart/mixed; boundary=changeset_…`` is a change set:
  atomic, no GETs inside, ``Content-ID: n`` lets a later URL start with ``$n``;
- without ``Prefer: odata.continue-on-error`` the batch stops at the first failure and answers
  400 (a multipart body with the parts done so far and the failure); with it, every part runs and
  the batch answers 200;
- at most 1,000 requests per batch; the batch counts once against the limits.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from email.message import Message
from email.parser import Parser
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from leadbridge.sandbox.dynamics.org import DataverseError, DataverseOrg
from leadbridge.sandbox.server import Request, Response

API = "/api/data/v9.2/"
MAX_REQUESTS = 1000
Dispatch = Callable[[Request, str], Response]


def _boundary(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    return None


def _split(body: bytes, boundary: str) -> list[bytes]:
    text = body.replace(b"\r\n", b"\n")
    marker = b"--" + boundary.encode()
    pieces = text.split(marker)
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        parts.append(piece.strip(b"\n"))
    return parts


def _head_and_body(blob: bytes) -> tuple[Message, bytes]:
    head, _, rest = blob.partition(b"\n\n")
    return Parser().parsestr(head.decode("utf-8") + "\n", headersonly=True), rest


class _Item:
    def __init__(
        self, content_id: str | None, request: Request | None, error: DataverseError | None = None
    ) -> None:
        self.content_id, self.request, self.error = content_id, request, error


def _parse_request(blob: bytes, outer: Request, content_id: str | None) -> _Item:
    line, _, rest = blob.partition(b"\n")
    words = line.decode("utf-8").split()
    if len(words) != 3:
        return _Item(
            content_id, None, DataverseError(400, "0x80060891", f"Invalid request line '{line[:80]!r}'.")
        )
    method, url, _ = words
    headers, body = _head_and_body(rest if rest.strip() else b"\n")
    for name in ("Host", "Authorization"):
        if headers.get(name) is None and outer.header(name) is not None:
            headers[name] = outer.header(name) or ""
    parts = urlsplit(url)
    request = Request(
        method=method.upper(),
        path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=headers,
        body=body.rstrip(b"\n"),
        client=outer.client,
    )
    return _Item(content_id, request)


def _items(body: bytes, boundary: str, outer: Request) -> list[tuple[str | None, list[_Item]]]:
    """Each top-level part: (change set boundary or None, its requests)."""
    groups: list[tuple[str | None, list[_Item]]] = []
    for part in _split(body, boundary):
        headers, content = _head_and_body(part)
        kind = (headers.get("Content-Type") or "").lower()
        if kind.startswith("multipart/mixed"):
            inner = _boundary(headers.get("Content-Type")) or ""
            items = []
            for sub in _split(content, inner):
                sub_headers, sub_content = _head_and_body(sub)
                items.append(_parse_request(sub_content, outer, sub_headers.get("Content-ID")))
            groups.append((inner, items))
        else:
            groups.append((None, [_parse_request(content, outer, headers.get("Content-ID"))]))
    return groups


def _render(response: Response, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines.append("")
    lines.append(f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}")
    lines += [f"{name}: {value}" for name, value in response.headers]
    lines.append("")
    lines.append(response.body.decode("utf-8"))
    return "\r\n".join(lines)


def _error_response(error: DataverseError) -> Response:
    body = json.dumps(error.body()).encode()
    return Response(
        error.status,
        body,
        [("Content-Type", "application/json; odata.metadata=minimal"), ("REQ_ID", str(uuid.uuid4()))],
    )


def run_batch(org: DataverseOrg, outer: Request, dispatch: Dispatch) -> Response:
    boundary = _boundary(outer.header("Content-Type"))
    if not (outer.header("Content-Type") or "").lower().startswith("multipart/mixed") or not boundary:
        raise DataverseError(
            400, "0x80060891", "The batch request must have a multipart/mixed content type with a boundary."
        )
    groups = _items(outer.body, boundary, outer)
    if sum(len(items) for _, items in groups) > MAX_REQUESTS:
        raise DataverseError(
            400, "0x8005f103", f"The number of requests in a batch exceeds the limit of {MAX_REQUESTS}."
        )
    go_on = "odata.continue-on-error" in (outer.header("Prefer") or "").lower()
    out_boundary = f"batchresponse_{uuid.uuid4()}"
    chunks: list[str] = []
    failed = False

    def one(item: _Item, references: dict[str, str]) -> Response:
        if item.error is not None or item.request is None:
            raise item.error or DataverseError(400, "0x80060891", "Invalid batch part.")
        request = item.request
        path = request.path
        if path.startswith("$"):
            ref, _, tail = path[1:].partition("/")
            if ref not in references:
                raise DataverseError(
                    400, "0x80060891", f"Content-ID Reference: '${ref}' does not exist in the batch context."
                )
            path = references[ref] + ("/" + tail if tail else "")
        if not path.startswith(API):
            path = API + path.lstrip("/")
        if references and request.body:
            request.body = _bind_references(request.body, references)
        return dispatch(request, path[len(API) :])

    for change_set, items in groups:
        if change_set is None:
            try:
                response = one(items[0], {})
            except DataverseError as error:
                response = _error_response(error)
            chunks.append(_render(response, items[0].content_id))
            failed = response.status >= 400
        else:
            responses: list[tuple[Response, str | None]] = []
            try:
                with org.atomic():
                    references: dict[str, str] = {}
                    for item in items:
                        if item.request is not None and item.request.method == "GET":
                            raise DataverseError(
                                400, "0x80060891", "A GET request is not allowed inside a change set."
                            )
                        response = one(item, references)
                        if response.status >= 400:
                            raise _Failed(response, item.content_id)
                        entity = dict(response.headers).get("OData-EntityId", "")
                        if item.content_id and entity:
                            references[item.content_id] = API + entity.split(API, 1)[-1]
                        responses.append((response, item.content_id))
            except _Failed as failure:
                responses, failed = [(failure.response, failure.content_id)], True
            except DataverseError as error:
                responses, failed = [(_error_response(error), None)], True
            inner = f"changesetresponse_{uuid.uuid4()}"
            body = "".join(f"--{inner}\r\n{_render(r, cid)}\r\n" for r, cid in responses) + f"--{inner}--"
            chunks.append(f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n{body}")
        if failed and not go_on:
            break
    text = "".join(f"--{out_boundary}\r\n{chunk}\r\n" for chunk in chunks) + f"--{out_boundary}--\r\n"
    status = 400 if failed and not go_on else 200
    return Response(
        status, text.encode("utf-8"), [("Content-Type", f"multipart/mixed; boundary={out_boundary}")]
    )


def _bind_references(body: bytes, references: dict[str, str]) -> bytes:
    """``"x@odata.bind": "$1"`` → the row that change-set item 1 created."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    for name, value in data.items():
        if name.endswith("@odata.bind") and isinstance(value, str) and value.startswith("$"):
            if value[1:] not in references:
                raise DataverseError(
                    400, "0x80060891", f"Content-ID Reference: '{value}' does not exist in the batch context."
                )
            data[name] = "/" + references[value[1:]][len(API) :]
    return json.dumps(data).encode()


class _Failed(Exception):
    def __init__(self, response: Response, content_id: str | None) -> None:
        super().__init__("change set item failed")
        self.response, self.content_id = response, content_id
