"""Arithmetic on half-open time ranges ``[start, end)`` in epoch microseconds.

A history cache remembers which ranges of a symbol's bars it fetched; a load asks only for what
:func:`missing` returns (the incremental update).
"""

from __future__ import annotations

Range = tuple[int, int]
Ranges = tuple[Range, ...]


def merge(ranges: list[Range] | Ranges) -> Ranges:
    """Sorted, non-overlapping ranges; ranges that overlap or touch are joined, empty ones dropped.

    >>> merge([(5, 7), (0, 2), (2, 3), (6, 9), (4, 4)])
    ((0, 3), (5, 9))
    """
    out: list[list[int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return tuple((a, b) for a, b in out)


def missing(covered: Ranges, start: int, end: int) -> Ranges:
    """The parts of ``[start, end)`` that ``covered`` (merged) does not cover.

    >>> missing(((0, 3), (5, 9)), 1, 12)
    ((3, 5), (9, 12))
    """
    gaps: list[Range] = []
    cursor = start
    for a, b in covered:
        if b <= cursor:
            continue
        if a >= end:
            break
        if a > cursor:
            gaps.append((cursor, min(a, end)))
        cursor = max(cursor, b)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return tuple(gaps)


def covers(covered: Ranges, start: int, end: int) -> bool:
    """Whether ``covered`` holds all of ``[start, end)``."""
    return not missing(covered, start, end)
