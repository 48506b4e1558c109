"""Registration keywords naming the paper a decoder implements, for either registry signature.

The registry is moving from ``papers=[catalog titles]`` to ``implements=Paper(title, arxiv)`` plus
``used_by=[catalog titles]``; :func:`paper_kwargs` builds the keywords the installed registry takes.
"""

from __future__ import annotations

from typing import Any

try:  # the registry with implements=Paper(...)
    from seqlab.registry import Paper
except ImportError:  # older registry: papers= takes catalog titles
    Paper = None


def paper_kwargs(
    title: str | None = None,
    arxiv: str | None = None,
    *,
    in_catalog: bool = False,
    used_by: tuple[str, ...] = (),
) -> dict:
    """``register`` keywords for a method implementing ``title`` (arXiv ``arxiv``); ``in_catalog``
    says the title is in seqlab's paper catalog; ``used_by`` are catalog titles that use the method."""
    kw: dict[str, Any] = {}
    if Paper is not None:
        if title is not None:
            kw["implements"] = Paper(title, arxiv)
        if used_by:
            kw["used_by"] = list(used_by)
        return kw
    catalog = ([title] if title is not None and in_catalog else []) + list(used_by)
    if catalog:
        kw["papers"] = catalog
    if title is not None and not in_catalog:
        kw["cites"] = f"{title} (arXiv {arxiv})"
    return kw
