"""Build the deployable zip of Convergio Core (``make package``), byte for byte reproducible.

The zip is what the templates deploy from ``packageUri`` (ADR 0019): the Functions app
(``function_app.py``, ``host.json``, ``requirements.txt``, ``orchestrations/``, ``activities/``,
``convergio/``), the plugins' runtime parts (``plugin.json``, ``.wasm``, ``.wat``), the example
graphs and the built web console (``web/build``, from ``make web``), minus what ``.funcignore``
leaves out. By default the dependencies are pre-installed for Linux x86_64 CPython 3.11 under
``.python_packages/lib/site-packages`` from the hash-locked ``requirements.lock`` (wheels only),
so the platform runs no build; ``--remote-build`` leaves them to the platform instead.

Same inputs, same bytes: entries sorted by name, every timestamp 1980-01-01 00:00:00, every file
mode 0644 (Unix), no directory entries, no extra fields, fixed compression level, and no
bytecode (``pip install --no-compile``; ``.pyc`` and ``__pycache__`` are never packed).

    python infra/package.py --out dist/convergio-app.zip [--remote-build] [--site-packages DIR]
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = "dist/convergio-app.zip"
SITE_PACKAGES_ARC = ".python_packages/lib/site-packages"
# What the app needs at run time, relative to the repository root (files or folders).
APP_ROOTS = (
    "function_app.py",
    "host.json",
    "requirements.txt",
    "orchestrations",
    "activities",
    "convergio",
    "plugins",
    "examples/graphs",
    "web/build",
)
REQUIRED = ("function_app.py", "host.json", "requirements.txt", "web/build/index.html")
# Under plugins/ only what the host loads: manifests, modules and WAT sources (compiled on load);
# not the C sources, headers, build scripts or READMEs.
PLUGIN_RUNTIME = ("plugin.json", "*.wasm", "*.wat")
# Always left out, whatever .funcignore says: bytecode and build caches are not reproducible.
ALWAYS_IGNORED = ("__pycache__/", "*.pyc", "*.pyo")
# Linux x86_64, CPython 3.11, manylinux wheels only: the tags the lock was resolved for and the
# ones the Flex Consumption Python 3.11 image (glibc >= 2.28) accepts.
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_5_x86_64",
    "manylinux1_x86_64",
)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
COMPRESS_LEVEL = 9


class PackageError(RuntimeError):
    """The package cannot be built (a required file is missing, pip failed...)."""


# ---------------------------------------------------------------- .funcignore


def read_ignore(path: Path) -> list[str]:
    """The patterns of a .gitignore-style file (comments and blank lines dropped)."""
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line)
    return patterns


def is_ignored(relpath: str, patterns: Iterable[str]) -> bool:
    """Whether a file path (POSIX, relative to the root) matches a .funcignore pattern.

    The subset .funcignore uses: ``name/`` is a folder anywhere, ``a/b/`` a folder under the root,
    ``*.ext`` or ``name`` a file name anywhere, ``a/b.json`` a path under the root.
    """
    parts = PurePosixPath(relpath).parts
    folders, name = parts[:-1], parts[-1]
    for raw in patterns:
        pattern = raw.lstrip("/")
        is_folder = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        anchored = "/" in pattern or raw.startswith("/")
        if is_folder:
            if anchored:
                depth = len(PurePosixPath(pattern).parts)
                if any(
                    fnmatch.fnmatchcase("/".join(folders[:i]), pattern)
                    for i in range(depth, len(folders) + 1)
                ):
                    return True
            elif any(fnmatch.fnmatchcase(folder, pattern) for folder in folders):
                return True
        elif anchored:
            if fnmatch.fnmatchcase(relpath, pattern):
                return True
        elif fnmatch.fnmatchcase(name, pattern) or any(fnmatch.fnmatchcase(f, pattern) for f in folders):
            return True
    return False


# ---------------------------------------------------------------- contents


def _walk(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for filename in sorted(filenames):
            yield Path(dirpath, filename)


def app_files(root: Path = ROOT) -> dict[str, Path]:
    """Archive name -> source file of the app part (no dependencies), .funcignore honoured."""
    patterns = [*ALWAYS_IGNORED, *read_ignore(root / ".funcignore")]
    missing = [name for name in REQUIRED if not (root / name).is_file()]
    if missing:
        hint = " (run `make web`)" if "web/build/index.html" in missing else ""
        raise PackageError(f"missing {', '.join(missing)}{hint}")
    files: dict[str, Path] = {}
    for entry in APP_ROOTS:
        source = root / entry
        candidates = [source] if source.is_file() else list(_walk(source)) if source.is_dir() else []
        for path in candidates:
            if path.is_symlink() or not path.is_file():
                continue  # a link could point outside the tree; nothing here needs one
            relpath = path.relative_to(root).as_posix()
            if is_ignored(relpath, patterns):
                continue
            if relpath.startswith("plugins/") and not any(
                fnmatch.fnmatchcase(path.name, p) for p in PLUGIN_RUNTIME
            ):
                continue
            files[relpath] = path
    return files


def dependency_files(site_packages: Path) -> dict[str, Path]:
    """Archive name -> source file of pre-installed dependencies (no bytecode, no scripts)."""
    files: dict[str, Path] = {}
    for path in _walk(site_packages):
        relpath = path.relative_to(site_packages).as_posix()
        if path.is_symlink() or is_ignored(relpath, ALWAYS_IGNORED) or relpath.startswith("bin/"):
            continue
        files[f"{SITE_PACKAGES_ARC}/{relpath}"] = path
    return files


# ---------------------------------------------------------------- dependencies


def lock_digest(lock: Path) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()[:16]


def install_dependencies(lock: Path, target: Path, python: str = sys.executable) -> Path:
    """``pip install --target`` of the hash-locked wheels for Linux x86_64 CPython 3.11.

    Kept in ``target`` (named after the lock's digest by the caller), so an unchanged lock
    installs nothing; a partial install is removed so it is never packed.
    """
    marker = target.with_name(target.name + ".installed")
    if marker.is_file() and target.is_dir():
        return target
    shutil.rmtree(target, ignore_errors=True)
    marker.unlink(missing_ok=True)
    command = [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--require-hashes",
        "--only-binary=:all:",
        "--no-compile",
        "--implementation",
        "cp",
        "--python-version",
        "3.11",
        "--abi",
        "cp311",
        "--abi",
        "abi3",
        "--abi",
        "none",
        *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
        "--target",
        str(target),
        "-r",
        str(lock),
    ]
    try:
        subprocess.run(command, check=True)
    except subprocess.CalledProcessError as error:
        shutil.rmtree(target, ignore_errors=True)
        raise PackageError(f"pip install of {lock.name} failed ({error.returncode})") from error
    marker.write_text(lock_digest(lock) + "\n", encoding="utf-8")
    return target


# ---------------------------------------------------------------- zip


def write_zip(files: dict[str, Path], out: Path) -> Path:
    """The files as a zip with fixed metadata, entries sorted; written atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.create_system = 3  # Unix, so the mode below is what unzip applies
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with files[name].open("rb") as source, archive.open(info, "w") as target:
                shutil.copyfileobj(source, target, 1 << 20)
    partial.replace(out)
    return out


def build(
    out: Path,
    root: Path = ROOT,
    site_packages: Path | None = None,
) -> Path:
    """Write the package to ``out``; with ``site_packages`` the dependencies are pre-installed."""
    files = app_files(root)
    if site_packages is not None:
        files.update(dependency_files(site_packages))
    return write_zip(files, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"zip to write (default {DEFAULT_OUT})")
    parser.add_argument(
        "--remote-build",
        action="store_true",
        help="leave the dependencies to the platform's remote build (app files only)",
    )
    parser.add_argument(
        "--site-packages",
        type=Path,
        help="pre-installed dependencies to pack (default: installed from requirements.lock)",
    )
    args = parser.parse_args(argv)
    out = (ROOT / args.out) if not Path(args.out).is_absolute() else Path(args.out)
    site_packages = None
    try:
        if not args.remote_build:
            lock = ROOT / "requirements.lock"
            site_packages = args.site_packages or install_dependencies(
                lock, ROOT / "dist" / f".site-packages-{lock_digest(lock)}"
            )
        build(out, ROOT, site_packages)
    except PackageError as error:
        print(f"package: {error}", file=sys.stderr)
        return 1
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"{shown}: {out.stat().st_size} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
