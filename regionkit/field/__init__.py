"""Offline field work: signed field bundles and the apt repository of the packages the servers need."""
