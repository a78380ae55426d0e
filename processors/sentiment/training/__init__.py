"""Datasets, metrics and training of the sentiment models: used by `sada sentiment train` and
`eval`, never imported by the workers."""
