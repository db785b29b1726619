"""leadbridge.core.matching."""
