"""LevelDB's failures become StorageError with a message an operator can read: LevelDB's
status as text (plyvel hands it over as bytes), and a full disk named as such."""

from __future__ import annotations

import plyvel

from storage.leveldb import _io_error


def test_a_full_disk_is_named_and_gets_its_own_code() -> None:
    exc = plyvel.IOError(b"IO error: /d/chain/000003.log: No space left on device")
    err = _io_error("write", "/d/chain", exc)
    assert err.code == "disk_full"
    assert err.message == ("the disk is full: LevelDB write failed at /d/chain: "
                           "IO error: /d/chain/000003.log: No space left on device")


def test_other_io_errors_keep_the_generic_code_and_read_as_text() -> None:
    err = _io_error("read", "/d/chain", plyvel.IOError(b"IO error: /d/chain/MANIFEST: Input/output error"))
    assert err.code == "storage_io"
    assert "b'" not in err.message and err.message.endswith("MANIFEST: Input/output error")
