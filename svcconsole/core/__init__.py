"""The headless core: every rule and every mutation, over the store and the modules."""
