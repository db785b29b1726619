"""The domain: canonical models, lifecycle, matching, storage and sync."""
