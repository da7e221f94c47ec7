"""Errors of p2p/: why a peer was refused or dropped. Each has a stable ``code``."""

from __future__ import annotations

from core.errors import ChainError


class P2PError(ChainError):
    code = "p2p_error"


class HandshakeError(P2PError):
    """The other side failed the handshake. ``code`` is one of: wrong_chain,
    wrong_genesis, wrong_version, not_admitted, unexpected_peer, bad_auth, bad_key,
    self_connect, handshake_timeout, protocol."""

    code = "handshake_failed"


class PeerMisbehaved(P2PError):
    """A peer broke the protocol after the handshake (garbage, oversized, flood, bad
    block); it is disconnected."""

    code = "peer_misbehaved"


class LinkTampered(P2PError):
    """A sealed frame failed authentication after the handshake: altered, injected,
    replayed or reordered on the path, or following a dropped frame. The link is closed;
    the peer is not blamed, since anyone on the path can cause it."""

    code = "link_tampered"
