"""Text for people: right-to-left runs (Arabic) must read correctly inside left-to-right lines."""

from __future__ import annotations

FSI, PDI = "\u2068", "\u2069"  # first-strong isolate ... pop directional isolate


def isolate(text: str) -> str:
    """Wrap `text` in a Unicode bidi isolate, so an Arabic brand name or post embedded in an
    English sentence (terminal, Slack, email) neither reorders nor is reordered by its neighbours."""
    return f"{FSI}{text}{PDI}"
