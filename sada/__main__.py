"""`python -m sada` is the `sada` command."""

from sada.cli import main

main()
