"""Peer-to-peer transport over aiohttp websockets: authenticated handshake, gossip of
transactions and consensus messages, and block sync."""
