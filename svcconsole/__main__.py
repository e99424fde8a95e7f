"""`python -m svcconsole`."""

from svcconsole.cli import main

main()
