"""The Pipedrive stand-in: one HTTPS server per company (API v1 + v2, OAuth refresh, webhooks out)."""
