"""The composition root: config, genesis, mempool, block production, RPC, events and
metrics. Read node/ top-down to follow the life of a transaction."""
