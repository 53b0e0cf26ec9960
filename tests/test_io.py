"""metarec.io: atomic writes, checksummed payloads (read_verified, CorruptFileError) and located decode errors."""

from __future__ import annotations

import pickle
import re

import pytest

import metarec.io as io_module
from metarec.errors import MetarecError, PersonaError
from metarec.io import (
    CorruptFileError,
    MissingChecksumError,
    atomic_write_bytes,
    checksum_trailer,
    read_text,
    read_verified,
    verify_bytes,
)

PAYLOAD = b"\x00weights\xff" * 100


def written(tmp, payload=PAYLOAD):
    return atomic_write_bytes(tmp / "model.pt", payload, checksum=True)


def flip(index):
    def damage(path):
        data = bytearray(path.read_bytes())
        data[index] ^= 0x10
        path.write_bytes(bytes(data))

    return damage


def truncate(keep):
    def damage(path):
        data = path.read_bytes()
        path.write_bytes(data[:keep] if keep >= 0 else data[:keep])

    return damage


def replace_with(content):
    return lambda path: path.write_bytes(content)


def strip_trailer(path):
    path.write_bytes(path.read_bytes()[: len(PAYLOAD)])


def append(extra):
    return lambda path: path.write_bytes(path.read_bytes() + extra)


# (damage, error class, message regex): every damaged copy is refused, never returned.
DAMAGED = [
    (flip(0), CorruptFileError, r"model\.pt: checksum mismatch \(the file is damaged\); delete the file"),
    (flip(len(PAYLOAD) // 2), CorruptFileError, r"model\.pt: checksum mismatch"),
    (flip(len(PAYLOAD) - 1), CorruptFileError, r"model\.pt: checksum mismatch"),
    (flip(-1), CorruptFileError, r"model\.pt: checksum mismatch"),
    (flip(len(PAYLOAD) + 3), MissingChecksumError, r"model\.pt: no checksum trailer"),
    (truncate(-1), MissingChecksumError, r"model\.pt: no checksum trailer \(\d+ bytes; truncated"),
    (truncate(len(PAYLOAD) // 2), MissingChecksumError, r"model\.pt: no checksum trailer"),
    (truncate(10), MissingChecksumError, r"model\.pt: no checksum trailer \(10 bytes"),
    (replace_with(b""), MissingChecksumError, r"model\.pt: no checksum trailer \(0 bytes"),
    (strip_trailer, MissingChecksumError, r"model\.pt: no checksum trailer .*not written with checksum=True"),
    (append(b"x"), MissingChecksumError, r"model\.pt: no checksum trailer"),
    (replace_with(b"other" + checksum_trailer(b"different")), CorruptFileError, r"model\.pt: checksum mismatch"),
]


@pytest.mark.parametrize(("damage", "error", "match"), DAMAGED)
def test_damaged_files_are_refused_naming_the_path(tmp_path, damage, error, match):
    path = written(tmp_path)
    damage(path)
    with pytest.raises(error, match=match) as caught:
        read_verified(path)
    assert isinstance(caught.value, MetarecError) and caught.value.path == path
    assert str(path) in str(caught.value)


def test_round_trip_and_sizes(tmp_path):
    path = written(tmp_path)
    assert read_verified(path) == PAYLOAD
    assert path.stat().st_size == len(PAYLOAD) + len(checksum_trailer(b""))
    assert verify_bytes(path.read_bytes()) == PAYLOAD
    empty = atomic_write_bytes(tmp_path / "empty.bin", b"", checksum=True)
    assert read_verified(empty) == b""


def test_plain_writes_have_no_trailer(tmp_path):
    path = atomic_write_bytes(tmp_path / "plain.bin", PAYLOAD)
    assert path.read_bytes() == PAYLOAD
    with pytest.raises(MissingChecksumError):
        read_verified(path)


def test_missing_file_is_an_ordinary_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_verified(tmp_path / "ghost.pt")


def test_errors_pickle_for_worker_processes(tmp_path):
    error = CorruptFileError(tmp_path / "cell.npz", "checksum mismatch")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is CorruptFileError and str(again) == str(error) and again.path == error.path


def test_failed_checksummed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = written(tmp_path)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(io_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new", checksum=True)
    monkeypatch.undo()
    assert read_verified(path) == PAYLOAD
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


# (content, encoding, message regex) for read_text: file, line, column and encoding named.
UNDECODABLE = [
    (b"ok\nbad \xff here\n", "utf-8", r"x\.txt, line 2, column 5: cannot decode as 'utf-8' \(bytes ff: invalid start byte\)"),
    (b"\xc3", "utf-8", r"x\.txt, line 1, column 1: cannot decode as 'utf-8' \(bytes c3: unexpected end of data\)"),
    (b"a\nb\nc\xe9d", "ascii", r"x\.txt, line 3, column 2: cannot decode as 'ascii' \(bytes e9: ordinal not in range"),
    (b"abc", "no-such-codec", r"x\.txt: unknown encoding 'no-such-codec'; pass a codec name"),
    (b"\x81", "cp1252", r"x\.txt, line 1, column 1: cannot decode as 'cp1252'"),
]


@pytest.mark.parametrize(("content", "encoding", "match"), UNDECODABLE)
def test_read_text_names_file_line_column_and_encoding(tmp_path, content, encoding, match):
    path = tmp_path / "x.txt"
    path.write_bytes(content)
    with pytest.raises(PersonaError, match=match) as caught:
        read_text(path, encoding, error=PersonaError)
    assert re.search(r"pass `encoding=`|pass a codec name", str(caught.value))


def test_read_text_drops_a_bom(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes("\ufeffhello".encode())
    assert read_text(path) == "hello"
