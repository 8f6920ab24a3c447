"""Writing a benchmark's table into BENCHMARKS.md, between its own markers.

Each script owns one block, ``<!-- NAME:start -->`` .. ``<!-- NAME:end -->``: a rerun replaces
the block in place; the first run appends it under its section heading.
"""

from __future__ import annotations

from pathlib import Path

PATH = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_block(name: str, section: str, text: str, trailer: str = "") -> None:
    """Put ``text`` in ``name``'s block; a new block goes under ``section`` (then ``trailer``).

    Parameters
    ----------
    name : str
        Marker name, e.g. ``"bench_backtest"``.
    section : str
        The heading line written above a new block, e.g. ``"## Backtest engine (...)"``.
    text : str
        The block's content.
    trailer : str, optional
        Text written once after a new block, outside the markers (kept across reruns).
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    doc = PATH.read_text() if PATH.exists() else "# Benchmarks\n"
    block = f"{start}\n{text}\n{end}"
    if start in doc and end in doc:
        doc = doc[:doc.index(start)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + f"\n\n{section}\n\n{block}\n" + (f"\n{trailer}\n" if trailer
                                                                   else "")
    PATH.write_text(doc)
