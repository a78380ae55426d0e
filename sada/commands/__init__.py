"""Sub-commands of `sada`, one typer app per module, registered in sada.cli."""
