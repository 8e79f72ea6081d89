"""The web console: the built SvelteKit app (``web/build``) served by the Functions app itself.

``GET /api/app/{*path}`` answers with the file at ``path`` under the build folder
(``CONVERGIO_WEB_DIR``, default ``web/build`` relative to the app folder), so the embedded
host and Azure serve the console alike. Hashed assets under ``_app/immutable/`` are cached
for a year; ``index.html`` is never cached without revalidation. An unknown path that does
not look like an asset gets ``index.html`` (the SPA router takes it from there); a missing
asset is a JSON 404. Nothing outside the build folder is ever read: ``..``, absolute paths,
backslashes, NUL bytes and symlinks that leave the folder are all refused.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import azure.functions as func

__all__ = ["WEB_DIR_SETTING", "serve_static", "web_root"]

WEB_DIR_SETTING = "CONVERGIO_WEB_DIR"
_DEFAULT_WEB_DIR = "web/build"
_APP_FOLDER = Path(__file__).resolve().parents[2]  # the folder of function_app.py
_INDEX = "index.html"
_IMMUTABLE = "_app/immutable/"
_LONG_CACHE = "public, max-age=31536000, immutable"
_NO_CACHE = "no-cache"
# Explicit types: the platform's mimetypes tables differ (and some map .js to text/plain).
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".wasm": "application/wasm",
}
_SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def web_root(environ: dict[str, str] | None = None) -> Path:
    """The build folder: ``CONVERGIO_WEB_DIR`` (relative to the app folder unless absolute)."""
    env = os.environ if environ is None else environ
    folder = Path(env.get(WEB_DIR_SETTING) or _DEFAULT_WEB_DIR)
    return (folder if folder.is_absolute() else _APP_FOLDER / folder).resolve()


def content_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _TYPES:
        return _TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _not_found(message: str) -> func.HttpResponse:
    from ._http import json_response  # with pydantic and the stores: a console file needs neither

    return json_response({"error": {"code": "not_found", "message": message}}, 404, headers=_SECURITY_HEADERS)


def _clean(raw: str) -> str | None:
    """The request path as safe relative POSIX parts, or None when it tries to leave the folder."""
    text = unquote(raw)
    if "\\" in text or "\x00" in text or text.startswith("/") or ":" in text.split("/", 1)[0]:
        return None
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def _inside(root: Path, relative: str) -> Path | None:
    """The file for ``relative`` if it exists and (symlinks resolved) stays under ``root``."""
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def _file(path: Path, name: str, cache: str) -> func.HttpResponse:
    headers = {"Content-Type": content_type(name), "Cache-Control": cache, **_SECURITY_HEADERS}
    return func.HttpResponse(path.read_bytes(), status_code=200, headers=headers)


def _looks_like_asset(relative: str) -> bool:
    last = relative.rsplit("/", 1)[-1]
    return relative.startswith(("_app/", "assets/")) or "." in last


def serve_static(raw_path: str, root: Path) -> func.HttpResponse:
    """The answer for ``GET /api/app/<raw_path>`` from the build folder ``root``."""
    relative = _clean(raw_path)
    if relative is None:
        return _not_found("no such file")
    if relative and relative != _INDEX:
        found = _inside(root, relative)
        if found is not None:
            immutable = relative.startswith(_IMMUTABLE)
            return _file(found, relative, _LONG_CACHE if immutable else _NO_CACHE)
        if _looks_like_asset(relative):
            return _not_found(f"no file {relative!r} in the web console build")
    index = _inside(root, _INDEX)
    if index is None:
        return _not_found("the web console is not built: run `npm ci && npm run build` in web/")
    return _file(index, _INDEX, _NO_CACHE)


def web_app(req: func.HttpRequest) -> func.HttpResponse:
    return serve_static(str(req.route_params.get("path") or ""), web_root())
