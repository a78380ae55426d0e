"""The `sada` command line, the local services and the demo: the only package that imports every stage."""

from pathlib import Path

# Shipped in the package: the demo runs on it, `sada init` copies it as a starting point.
SAMPLE_CONFIG = Path(__file__).with_name("sample-config.yaml")
