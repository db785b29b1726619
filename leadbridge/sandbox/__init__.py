"""leadbridge.sandbox."""
