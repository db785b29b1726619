"""The Salesforce stand-in (see service.py)."""
