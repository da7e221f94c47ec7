"""The encrypted channel of an authenticated p2p link: key schedule and frame sealing.

Each side of a link makes a fresh X25519 key pair for that link alone and sends the
public half in its ``Auth``, signed with its node key bound to the other side's fresh
challenge (``p2p.messages.handshake_signing_bytes``), so an on-path attacker can neither
substitute an ephemeral key nor replay an old one. From the X25519 shared secret and a
hash of the whole handshake (chain, genesis, both node keys, both challenges, both
ephemeral keys) each side derives two 32-byte keys, one per direction, and runs one
libsodium secretstream (XChaCha20-Poly1305) per direction over them: every websocket
message after the handshake is one sealed frame. A sealed message that was altered,
injected, replayed, reordered, or that follows a dropped one, fails to open and the link
is closed (``LinkTampered``); a link on which nothing authenticated arrives for a while
is dead (the sender seals an empty keepalive when it has nothing else to say). The
ephemeral secrets live only in memory for the life of the link, so a node key stolen
later does not open recorded traffic (forward secrecy).

The exact schedule is normative, in docs/PROTOCOL.md ("p2p: handshake and encrypted
links").
"""

from __future__ import annotations

import hashlib
import hmac

import nacl.bindings as sodium
import nacl.exceptions
import nacl.public

from core import codec
from core.hashing import sha256
from p2p.errors import HandshakeError, LinkTampered, PeerMisbehaved
from p2p.messages import EPHEMERAL_KEY_SIZE, STREAM_HEADER_SIZE

KEY_SIZE = sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES
HEADER_SIZE = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
assert HEADER_SIZE == STREAM_HEADER_SIZE
# What sealing adds to each frame: the MAC and the encrypted stream tag.
SEAL_OVERHEAD = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE

DOMAIN_TRANSCRIPT = b"hkchain/p2p-transcript/2\x00"
# HKDF's "info": what the derived keys are for.
KDF_INFO = b"hkchain/p2p-keys/2\x00"


class EphemeralKey:
    """A fresh X25519 key pair for one link."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = nacl.public.PrivateKey(secret) if secret is not None else nacl.public.PrivateKey.generate()
        self.public_key: bytes = bytes(self._secret.public_key)

    def shared_secret(self, their_public_key: bytes) -> bytes:
        """X25519 of our secret and their public key. HandshakeError if their key is a
        low-order point (the result would be all zeroes, known to anyone)."""
        if len(their_public_key) != EPHEMERAL_KEY_SIZE:
            raise HandshakeError("ephemeral key is not 32 bytes", code="bad_key")
        try:
            shared = sodium.crypto_scalarmult(bytes(self._secret), their_public_key)
        except nacl.exceptions.RuntimeError:
            raise HandshakeError("ephemeral key is a low-order point", code="bad_key") from None
        if shared == bytes(len(shared)):
            raise HandshakeError("ephemeral key is a low-order point", code="bad_key")
        return shared


def transcript_hash(chain_id: str, genesis_hash: bytes, side_a: tuple[bytes, bytes, bytes],
                    side_b: tuple[bytes, bytes, bytes]) -> bytes:
    """The hash of the handshake both sides saw. Each side is (node public key, its
    challenge, its ephemeral public key); the side with the lower node key comes first,
    so both ends compute the same bytes whoever dialed."""
    low, high = sorted((side_a, side_b))
    return sha256(DOMAIN_TRANSCRIPT + codec.encode([chain_id, genesis_hash, *low, *high]))


def session_keys(shared_secret: bytes, transcript: bytes, me: bytes, them: bytes) -> tuple[bytes, bytes]:
    """(key I send with, key I receive with): HKDF-SHA256 (RFC 5869) of the shared secret
    with the transcript hash as salt; the first 32 bytes key what the lower node key
    sends, the next 32 what the higher one sends."""
    prk = hmac.new(transcript, shared_secret, hashlib.sha256).digest()
    low_sends = hmac.new(prk, KDF_INFO + b"\x01", hashlib.sha256).digest()
    high_sends = hmac.new(prk, low_sends + KDF_INFO + b"\x02", hashlib.sha256).digest()
    return (low_sends, high_sends) if me < them else (high_sends, low_sends)


class SecureChannel:
    """Two secretstreams over one link: ``seal`` for what we send, ``open`` for what we
    receive. Not thread-safe; each direction must be used in frame order (the writer
    seals right before it sends, the reader opens as it receives)."""

    def __init__(self, send_key: bytes, receive_key: bytes) -> None:
        self._send = sodium.crypto_secretstream_xchacha20poly1305_state()
        self._receive = sodium.crypto_secretstream_xchacha20poly1305_state()
        self._receive_key = receive_key
        self._receiving = False
        # The header is the stream's random nonce; the other side needs it to open.
        self.header: bytes = sodium.crypto_secretstream_xchacha20poly1305_init_push(self._send, send_key)
        self.sealed = 0
        self.opened = 0

    def start_receiving(self, header: bytes) -> None:
        """Begin the receiving stream from the header the other side sent."""
        if len(header) != HEADER_SIZE:
            raise HandshakeError(f"stream header is {len(header)} bytes, not {HEADER_SIZE}",
                                 code="protocol")
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._receive, header, self._receive_key)
        self._receiving = True

    def seal(self, plaintext: bytes) -> bytes:
        self.sealed += 1
        return sodium.crypto_secretstream_xchacha20poly1305_push(self._send, plaintext, None, TAG_MESSAGE)

    def open(self, sealed: bytes) -> bytes:
        """The plaintext of the next sealed frame; LinkTampered if it does not
        authenticate as exactly the next frame the other side sealed."""
        if not self._receiving:
            raise LinkTampered("frame before the stream header")
        if len(sealed) < SEAL_OVERHEAD:
            raise LinkTampered(f"frame {self.opened + 1} failed authentication ({len(sealed)} bytes, "
                               "shorter than any sealed frame)")
        try:
            # PyNaCl takes bytes only; a websocket library may hand over a bytearray.
            plaintext, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(self._receive, bytes(sealed))
        except (nacl.exceptions.RuntimeError, nacl.exceptions.ValueError):
            raise LinkTampered(
                f"frame {self.opened + 1} failed authentication (altered, injected, replayed, "
                "reordered or following a dropped frame)"
            ) from None
        if tag != TAG_MESSAGE:
            # Authentic, so the peer itself sent it: only TAG_MESSAGE is used.
            raise PeerMisbehaved(f"frame {self.opened + 1} carries stream tag {tag}")
        self.opened += 1
        return plaintext
