"""The sync engine: checkpoints, the outbox and its projection, echo suppression, the cycle."""
