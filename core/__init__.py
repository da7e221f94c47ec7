"""The shared vocabulary of hkchain: canonical codec, hashes, keys, and chain types.

core/ imports nothing else of the project; every other package imports it.
"""
