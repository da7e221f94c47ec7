"""Write the generated parts of the docs from the code they describe.

  python scripts/gen_docs.py [--check]

docs/RPC.md's table of error codes comes from node/rpc_errors.py. Each generated part
sits between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` markers; ``--check``
fails (exit 1) if a doc differs from what the code gives, without writing it
(tests/test_generated_docs.py runs the same comparison).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node import rpc_errors

ROOT = Path(__file__).resolve().parent.parent

# (doc, marker name, the function giving the text between the markers)
SECTIONS: list[tuple[str, str, Callable[[], str]]] = [
    ("docs/RPC.md", "rpc-errors", rpc_errors.render_markdown),
]


def replace_section(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"markers of {name!r} not found")
    return text[: i + len(begin)] + body + text[j:]


def generated() -> dict[Path, str]:
    """Each doc's text with its generated sections brought up to date."""
    out: dict[Path, str] = {}
    for doc, name, render in SECTIONS:
        path = ROOT / doc
        text = out.get(path, path.read_text())
        out[path] = replace_section(text, name, render())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for path, text in generated().items():
        if path.read_text() == text:
            continue
        if args.check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        sys.exit(f"out of date (run scripts/gen_docs.py): {', '.join(stale)}")


if __name__ == "__main__":
    main()
