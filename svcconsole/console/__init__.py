"""The admin console: its app, action registry, bulk runs, commands, messages, selection, demo and screens."""
