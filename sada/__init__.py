"""The `sada` command line, the local services and the demo: the only package that imports every stage."""
