"""The web console route: files from the build folder, content types, caching, SPA fallback, no escape."""

from __future__ import annotations

import json
from pathlib import Path

import azure.functions as func
import pytest

from convergio.api import blueprint
from convergio.api._web import WEB_DIR_SETTING, content_type, serve_static, web_app, web_root
from tests._helpers import ROOT, HostProcess

INDEX = b"<!doctype html><title>Convergio</title>"
ASSET = "_app/immutable/entry/start.abc123.js"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    root = tmp_path / "build"
    (root / "_app" / "immutable" / "entry").mkdir(parents=True)
    (root / "_app" / "immutable" / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / ASSET).write_text("export const x = 1;\n")
    (root / "_app" / "immutable" / "assets" / "app.def456.css").write_text("body{}")
    (root / "_app" / "version.json").write_text('{"version": "1"}')
    (root / "favicon.svg").write_text("<svg/>")
    (root / "font.woff2").write_bytes(b"wOF2\x00\x01")
    (tmp_path / "secret.txt").write_text("outside the build folder")
    return root.resolve()


def _headers(answer: func.HttpResponse) -> dict[str, str]:
    return {k.lower(): v for k, v in answer.headers.items()}


def _error(answer: func.HttpResponse) -> dict[str, str]:
    body = json.loads(answer.get_body())
    return dict(body["error"])


def test_index_is_served_for_the_root_and_is_not_cached(build: Path) -> None:
    for path in ("", "index.html", "./index.html"):
        answer = serve_static(path, build)
        assert answer.status_code == 200
        assert answer.get_body() == INDEX
        headers = _headers(answer)
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert headers["cache-control"] == "no-cache"
        assert headers["x-content-type-options"] == "nosniff"


def test_hashed_assets_are_immutable_and_typed(build: Path) -> None:
    answer = serve_static(ASSET, build)
    assert answer.status_code == 200
    assert answer.get_body() == b"export const x = 1;\n"
    assert _headers(answer)["content-type"] == "text/javascript; charset=utf-8"
    assert _headers(answer)["cache-control"] == "public, max-age=31536000, immutable"
    css = serve_static("_app/immutable/assets/app.def456.css", build)
    assert _headers(css)["content-type"] == "text/css; charset=utf-8"
    assert _headers(css)["cache-control"] == "public, max-age=31536000, immutable"


def test_other_files_are_revalidated(build: Path) -> None:
    version = serve_static("_app/version.json", build)
    assert _headers(version)["content-type"] == "application/json"
    assert _headers(version)["cache-control"] == "no-cache"
    assert _headers(serve_static("favicon.svg", build))["content-type"] == "image/svg+xml"
    font = serve_static("font.woff2", build)
    assert _headers(font)["content-type"] == "font/woff2"
    assert font.get_body() == b"wOF2\x00\x01"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.MJS", "text/javascript; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.svg", "image/svg+xml"),
        ("a.json", "application/json"),
        ("a.woff2", "font/woff2"),
        ("a.png", "image/png"),
        ("a.unknownext", "application/octet-stream"),
    ],
)
def test_content_types(name: str, expected: str) -> None:
    assert content_type(name) == expected


@pytest.mark.parametrize("path", ["runs", "runs/0123abcd", "start", "connections/", "usage?x=1"])
def test_unknown_pages_fall_back_to_the_spa_index(build: Path, path: str) -> None:
    answer = serve_static(path, build)
    assert answer.status_code == 200
    assert answer.get_body() == INDEX
    assert _headers(answer)["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["_app/immutable/entry/gone.js", "missing.css", "_app/nothing", "logo.png"])
def test_missing_assets_are_a_json_404(build: Path, path: str) -> None:
    answer = serve_static(path, build)
    assert answer.status_code == 404
    assert answer.mimetype == "application/json"
    assert _error(answer)["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "_app/../../secret.txt",
        "%2e%2e/secret.txt",
        "..%2fsecret.txt",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "..\\secret.txt",
        "_app\\..\\..\\secret.txt",
        "index.html%00.js",
        "C:/Windows/win.ini",
    ],
)
def test_no_path_leaves_the_build_folder(build: Path, path: str) -> None:
    answer = serve_static(path, build)
    assert answer.status_code == 404
    assert b"outside the build folder" not in answer.get_body()


def test_symlinks_out_of_the_folder_are_refused(build: Path) -> None:
    outside = build.parent / "secret.txt"
    (build / "leak.txt").symlink_to(outside)
    (build / "_app" / "immutable" / "out").symlink_to(build.parent, target_is_directory=True)
    for path in ("leak.txt", "_app/immutable/out/secret.txt"):
        answer = serve_static(path, build)
        assert answer.status_code == 404
        assert b"outside" not in answer.get_body()


def test_symlinks_inside_the_folder_are_served(build: Path) -> None:
    (build / "alias.js").symlink_to(build / ASSET)
    assert serve_static("alias.js", build).get_body() == b"export const x = 1;\n"


def test_a_missing_build_says_how_to_build(tmp_path: Path) -> None:
    answer = serve_static("runs", tmp_path / "nothing")
    assert answer.status_code == 404
    assert "npm run build" in _error(answer)["message"]


def test_the_setting_picks_the_folder(build: Path, tmp_path: Path) -> None:
    assert web_root({}) == (ROOT / "web" / "build").resolve()
    assert web_root({WEB_DIR_SETTING: str(build)}) == build
    assert web_root({WEB_DIR_SETTING: "somewhere/else"}) == (ROOT / "somewhere" / "else").resolve()


def test_the_function_reads_the_route_parameter(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEB_DIR_SETTING, str(build))
    req = func.HttpRequest("GET", f"http://h/api/app/{ASSET}", route_params={"path": ASSET}, body=b"")
    assert web_app(req).get_body() == b"export const x = 1;\n"
    root = func.HttpRequest("GET", "http://h/api/app", route_params={}, body=b"")
    assert web_app(root).get_body() == INDEX


def test_the_route_is_registered_on_the_api_blueprint() -> None:
    triggers = [fb._function.get_trigger() for fb in blueprint._function_builders]
    web = [t for t in triggers if getattr(t, "route", None) == "app/{*path}"]
    assert len(web) == 1
    assert [str(getattr(m, "value", m)) for m in web[0].methods] == ["GET"]


def test_the_embedded_host_serves_the_console(build: Path, tmp_path: Path) -> None:
    env = {WEB_DIR_SETTING: str(build)}
    with HostProcess(ROOT / "function_app.py", tmp_path / "home", env=env) as host, host.client() as http:
        index = http.get("/api/app/")
        assert index.status_code == 200
        assert index.content == INDEX
        assert index.headers["content-type"].startswith("text/html")
        assert index.headers["cache-control"] == "no-cache"
        deep = http.get("/api/app/runs/0123")
        assert deep.status_code == 200 and deep.content == INDEX
        asset = http.get(f"/api/app/{ASSET}")
        assert asset.headers["content-type"] == "text/javascript; charset=utf-8"
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        missing = http.get("/api/app/_app/immutable/nope.js")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        escape = http.get("/api/app/%2e%2e/%2e%2e/README.md")
        assert escape.status_code == 404
        absolute = http.get("/api/app//etc/passwd")
        assert absolute.status_code == 404
