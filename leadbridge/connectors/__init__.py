"""leadbridge.connectors."""
