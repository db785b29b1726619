"""Throwaway TLS for the sandboxes: one trustme CA per run and a leaf for 127.0.0.1/localhost.

Clients trust only this CA (its PEM is written to a file); nothing is installed system-wide.
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import trustme


class SandboxTLS:
    """A fresh certificate authority and a server certificate for the loopback names.

    ``ca_file`` is the PEM clients pass as ``verify=`` (requests) or ``ssl_ca_cert=`` (urllib3);
    ``server_context()`` is what every sandbox server wraps its connections with.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._ca = trustme.CA(organization_name="leadbridge sandbox")
        self._leaf = self._ca.issue_cert("127.0.0.1", "localhost", "::1")
        if directory is None:
            # Owned by this object; removed in cleanup() so repeated runs leave nothing behind.
            self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(
                prefix="leadbridge-sandbox-"
            )
            directory = Path(self._tmp.name)
        else:
            self._tmp = None
            directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / "sandbox-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        """A server-side context carrying the leaf certificate (TLS 1.2+)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._leaf.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client-side context trusting only this CA (for urllib/http.client callers)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return context

    def cleanup(self) -> None:
        """Remove the CA file if this object created its directory."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
