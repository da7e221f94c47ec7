"""The residents' and committees' web app: static assets only (HTML, CSS, ES modules,
message catalogues, vendored pinned browser libraries). The node serves them
(node/webapp.py); the app talks to the node only over the public RPC and websocket and
signs and verifies in the browser. No Python here but where the assets are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
STATIC_DIR = ROOT / "static"
VENDOR_DIR = ROOT / "vendor"
INDEX_FILE = STATIC_DIR / "index.html"
