"""The console's headless parts: the action registry, messages, marks and formatting."""
