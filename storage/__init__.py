"""LevelDB storage: blocks, certificates, receipts, tx index, the state tree, and the
consensus WAL. One WriteBatch per committed block."""
