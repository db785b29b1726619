"""Personal data rules: what about a lead is personal, how it is erased, exported and kept."""
