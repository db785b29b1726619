"""leadbridge.jobs."""
