"""Write the generated parts of the docs from the code they describe.

  python scripts/gen_docs.py [--check]

docs/RPC.md's table of error codes comes from node/rpc_errors.py, and docs/PROTOCOL.md's
tables of records from the records' own declarations (core/schema.py). Each generated part
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

from consensus import messages as consensus_messages
from consensus import wal
from core import merkle, schema, types
from node import evidence, rpc_errors
from p2p import messages as p2p_messages
from storage import state

RECORD_GROUPS = [
    ("Chain records", "What wallets and light clients read and write.", [
        types.Tx, types.SignedTx, types.BlockHeader, types.Block, types.Event, types.Receipt,
        types.Vote, types.CommitCertificate, types.Validator, types.ValidatorSet,
        state.StateProof, merkle.MerkleProof]),
    ("Consensus messages", "Between validators, inside a ConsensusFrame (tags 32 and up); a node sends "
     "its PrePrepare by reference instead, as a Proposal frame (section 14).", [
        consensus_messages.PrePrepare, consensus_messages.Prepare, consensus_messages.Commit,
        consensus_messages.PreparedCertificate, consensus_messages.ViewChange,
        consensus_messages.NewView, consensus_messages.Decision]),
    ("p2p frames", "The binary websocket frames between nodes (tags 101 and up); Hello, Auth "
     "and StreamStart in the clear, every later frame sealed (section 13).", [
        p2p_messages.Hello, p2p_messages.Auth, p2p_messages.StreamStart, p2p_messages.Status, p2p_messages.TxAnnounce,
        p2p_messages.TxRequest, p2p_messages.Txs, p2p_messages.ConsensusFrame,
        p2p_messages.Proposal, p2p_messages.ProposalTxsRequest, p2p_messages.ProposalTxs,
        p2p_messages.VoteBundle,
        p2p_messages.BlocksRequest, p2p_messages.Blocks, p2p_messages.Goodbye,
        p2p_messages.BlobRequest, p2p_messages.Blob, p2p_messages.SnapshotRequest,
        p2p_messages.SnapshotOffer, p2p_messages.ValsetChangesRequest, p2p_messages.ValsetChanges,
        p2p_messages.ValsetChange, p2p_messages.StateRequest, p2p_messages.StateParts,
        p2p_messages.StatePart]),
    ("Kept by a node", "In a node's own store, never sent; listed for completeness.", [
        wal.VoteRecord, evidence.EvidenceRecord, evidence.SignedPart]),
]


def records_markdown() -> str:
    """Section 11 of docs/PROTOCOL.md: every record's fields, types and bounds."""
    out = ["## 11. The records", "",
           "Generated from the records' declarations (`core/schema.py`; `python "
           "scripts/gen_docs.py`). Each record is `[TAG, field…]` (a record with no tag is "
           "`[field…]`) with the fields in this order. \"u64\" is an integer in [0, 2^64 − "
           "1], \"u32\" in [0, 2^32 − 1]; \"bytesN\" bytes of exactly N, \"bytes≤N\" of at "
           "most N; \"str≤N\" a string of at most N characters; \"list≤N of X\" an array of "
           "at most N X's; \"[A, B]\" a two-item array; \"Value\" any value (section 2). A "
           "decoder must refuse anything else.", ""]
    for title, intro, classes in RECORD_GROUPS:
        out += [f"### {title}", "", intro, ""]
        for cls in classes:
            out.append(schema.markdown_table(cls).replace("### ", "#### ", 1))
    return "\n".join(out)

ROOT = Path(__file__).resolve().parent.parent

# (doc, marker name, the function giving the text between the markers)
SECTIONS: list[tuple[str, str, Callable[[], str]]] = [
    ("docs/RPC.md", "rpc-errors", rpc_errors.render_markdown),
    ("docs/PROTOCOL.md", "records", records_markdown),
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
