"""Build the education plugins: C sources to wasm32 modules with the `ziglang` package's clang.

    python plugins/education/build.py           # write each plugin's .wasm beside its source
    python plugins/education/build.py --check   # rebuild elsewhere, compare with the committed modules

The built modules are committed, so installing a plugin needs no compiler; `--check` (run by the
tests) proves they are exactly what the committed sources build to. The toolchain is pinned in
requirements-dev.txt, and the build is deterministic (no timestamps, no paths in the output).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# wasm32 with no libc and no WASI: the ABI of docs/adr/0005-plugin-abi.md and nothing else.
FLAGS = (
    "--target=wasm32-freestanding",
    "-Oz",
    "-nostdlib",
    "-mbulk-memory",
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wl,--no-entry",
    "-Wl,-z,stack-size=65536",
    "-Wl,--strip-all",
)


def plugins() -> list[tuple[Path, Path]]:
    """(C source, module name) of every plugin folder: one ``.c`` file beside ``plugin.json``."""
    found = []
    for manifest in sorted(HERE.glob("*/plugin.json")):
        sources = sorted(manifest.parent.glob("*.c"))
        if len(sources) != 1:
            raise SystemExit(f"{manifest.parent}: expected one .c source, found {len(sources)}")
        found.append((sources[0], Path(json.loads(manifest.read_text())["module"])))
    return found


def compile_module(source: Path, target: Path) -> None:
    """Compile one plugin source to a module at ``target``."""
    command = [sys.executable, "-m", "ziglang", "cc", *FLAGS, "-o", str(target), str(source)]
    done = subprocess.run(command, cwd=source.parent, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"building {source} failed:\n{done.stderr}")


def main(argv: list[str] | None = None) -> int:
    """Build (or check) every plugin; 0 on success, 1 when a committed module is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare fresh builds with the committed ones")
    args = parser.parse_args(argv)
    stale = []
    with tempfile.TemporaryDirectory() as scratch:
        for source, module in plugins():
            committed = source.parent / module
            target = Path(scratch) / module if args.check else committed
            compile_module(source, target)
            if args.check and (not committed.is_file() or committed.read_bytes() != target.read_bytes()):
                stale.append(committed)
            print(f"{'checked' if args.check else 'built'} {committed.relative_to(HERE.parent.parent)}")
    for path in stale:
        print(f"stale: {path} differs from a build of its source (run plugins/education/build.py)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
