"""Connected components of links: which records the links join into one person.

Used by the person index (leftover entities that link among themselves) and by
:class:`~analysis.link.result.LinkResult` (its clusters)."""

from __future__ import annotations

from collections.abc import Iterable


def component_roots(left: Iterable, right: Iterable) -> dict:
    """Each id that appears in a link (``left[i]`` — ``right[i]``) mapped to the smallest id
    of its connected component, so a component is named the same whatever the order of
    its links. Ids not in any link are not in the result (each is its own component).

    >>> component_roots(["c", "d", "x"], ["b", "c", "y"])
    {'c': 'b', 'b': 'b', 'd': 'b', 'x': 'x', 'y': 'x'}
    """
    parent: dict = {}

    def find(x):
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in zip(left, right, strict=True):
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}
