"""leadbridge.mappings."""
