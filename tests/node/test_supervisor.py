"""Background loops under the supervisor: a loop that fails is logged and restarted with
backoff; a local fault (the node's store or disk) goes to the fatal handler instead. The
blob scan is one such loop: an unexpected error no longer ends it for good."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import itertools
import logging
from pathlib import Path

import pytest

from core.errors import ValidationError
from node.blobs import BlobService, BlobStore
from node.supervisor import LocalFault, Supervisor, is_local_fault
from storage.errors import StorageError
from tests.node.test_blobs import _Network, _until


class _Fatal:
    def __init__(self) -> None:
        self.calls: list[tuple[str, BaseException]] = []

    def __call__(self, what: str, exc: BaseException) -> None:
        self.calls.append((what, exc))


def test_local_faults_are_told_from_other_errors() -> None:
    assert is_local_fault(StorageError("LevelDB write failed", code="storage_io"))
    assert is_local_fault(LocalFault("state diverged", code="state_diverged"))
    assert is_local_fault(OSError(errno.ENOSPC, "No space left on device"))
    assert is_local_fault(OSError(errno.EROFS, "Read-only file system"))
    assert not is_local_fault(ConnectionResetError(errno.ECONNRESET, "reset by peer"))
    assert not is_local_fault(ValidationError("bad block"))
    assert not is_local_fault(RuntimeError("a bug"))


async def test_a_failing_loop_is_logged_and_restarted_with_growing_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fatal = _Fatal()
    restarted: list[str] = []
    sup = Supervisor(fatal, min_backoff_s=0.01, max_backoff_s=0.04, on_restart=restarted.append)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def flaky() -> None:
        starts.append(loop.time())
        if len(starts) <= 4:
            raise RuntimeError(f"failure {len(starts)}")
        await asyncio.Event().wait()  # the fifth run stays up

    with caplog.at_level(logging.ERROR, logger="hkchain.node.supervisor"):
        sup.spawn("flaky loop", flaky)
        await _until(lambda: len(starts) == 5)
    assert sup.running("flaky loop") and sup.restarts["flaky loop"] == 4
    assert restarted == ["flaky loop"] * 4 and fatal.calls == []
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Backoff 0.01, 0.02, 0.04, then capped at 0.04.
    assert gaps[0] >= 0.01 and gaps[1] >= 0.02 and gaps[2] >= 0.04 and gaps[3] >= 0.04
    messages = [r.getMessage() for r in caplog.records]
    assert any("flaky loop failed (restart 1" in m and "failure 1" in m for m in messages)
    await sup.stop()
    assert not sup.running("flaky loop")


async def test_a_local_fault_in_a_loop_is_fatal_and_not_retried() -> None:
    fatal = _Fatal()
    sup = Supervisor(fatal, min_backoff_s=0.01)
    runs = 0

    async def disk_full() -> None:
        nonlocal runs
        runs += 1
        raise StorageError("LevelDB write failed: No space left on device", code="storage_io")

    sup.spawn("writer", disk_full)
    await _until(lambda: bool(fatal.calls))
    await asyncio.sleep(0.05)
    assert runs == 1 and [w for w, _ in fatal.calls] == ["writer"]
    assert isinstance(fatal.calls[0][1], StorageError)
    await sup.stop()


def test_report_sends_local_faults_to_the_fatal_handler_and_logs_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fatal = _Fatal()
    sup = Supervisor(fatal)
    with caplog.at_level(logging.ERROR, logger="hkchain.node.supervisor"):
        sup.report("handling Blocks from node2", KeyError("a bug"))
    assert fatal.calls == []
    assert any("handling Blocks from node2 failed" in r.getMessage() for r in caplog.records)
    err = OSError(errno.EIO, "Input/output error")
    sup.report("handling BlobRequest from node1", err)
    assert fatal.calls == [("handling BlobRequest from node1", err)]


async def test_the_blob_scan_survives_an_unexpected_error(tmp_path: Path) -> None:
    h = hashlib.sha256(b"a registered work").digest()
    calls = 0

    async def registered() -> list[bytes]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TypeError("a view answered something unexpected")
        return [h]

    fatal = _Fatal()
    sup = Supervisor(fatal, min_backoff_s=0.01)
    service = BlobService(BlobStore(tmp_path), _Network(),  # type: ignore[arg-type]
                          registered=registered, scan_interval_s=0.01)
    service.start(sup.spawn)
    try:
        await _until(lambda: h in service.wanted)
        assert sup.restarts["blob scan"] == 1 and fatal.calls == []
    finally:
        await sup.stop()
        await service.stop()


async def test_a_storage_fault_in_the_blob_scan_stops_the_node(tmp_path: Path) -> None:
    async def registered() -> list[bytes]:
        raise StorageError("LevelDB read failed: corruption", code="storage_io")

    fatal = _Fatal()
    sup = Supervisor(fatal, min_backoff_s=0.01)
    service = BlobService(BlobStore(tmp_path), _Network(),  # type: ignore[arg-type]
                          registered=registered, scan_interval_s=0.01)
    service.start(sup.spawn)
    try:
        await _until(lambda: bool(fatal.calls))
        assert fatal.calls[0][0] == "blob scan" and sup.restarts["blob scan"] == 0
    finally:
        await sup.stop()
        await service.stop()
