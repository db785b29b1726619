"""leadbridge.core.store."""
