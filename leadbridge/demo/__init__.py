"""``leadbridge demo``: a whole run over sandbox CRMs — world, simulated partners, summary."""
