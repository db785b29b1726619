"""One contract harness per connector kind: ``<kind>.py`` exports ``open_harness(registry)``."""
