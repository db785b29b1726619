"""The Dataverse (Dynamics 365 Sales) stand-in: the Entra token endpoint for client credentials and
the Web API (``/api/data/v9.2``) with OData v4 shapes, alternate-key upserts, change tracking,
``$batch`` and service-protection 429s. See ``service.py`` for the request pipeline."""
