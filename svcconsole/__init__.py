"""svcconsole: the terminal console for a hosting company's services."""

__version__ = "0.1.0"
