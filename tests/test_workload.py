"""The reference workload (regionkit/provision/workload/): its layout and labels everywhere; with a `php` on PATH
also its syntax, the health document and the page served by `bin/start` (PHP's built-in server), and `bin/migrate`.

This machine has no PHP on purpose (test hosts install it from their apt cache), so the PHP tests skip here;
the deploy tests exercise the workload on real hosts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from regionkit.provision.artifacts import workload_source
from regionkit.render.filters import quote

SOURCE = workload_source()
PHP = shutil.which("php")
PHP_FILES = ["lib/workload.php", "public/index.php", "bin/migrate"]
needs_php = pytest.mark.skipif(PHP is None, reason="php is not installed here (test hosts install it from their "
                                                   "apt cache; the deploy tests run the workload there)")
PASSWORD = "pw-Sup3r-s3cret-value"
APP_KEY = "base64:app-key-s3cret"


def test_layout_and_entry_points():
    for name in ("public/index.php", "lib/workload.php", "bin/migrate", "bin/start", "README.md"):
        assert (SOURCE / name).is_file(), name
    assert sorted(p.name for p in (SOURCE / "public").iterdir()) == ["index.php"]
    migrate = (SOURCE / "bin" / "migrate").read_text()
    assert migrate.startswith("#!/usr/bin/env php\n<?php\n")
    start = (SOURCE / "bin" / "start").read_text()
    assert start.startswith("#!/bin/sh\n")
    assert ('exec php -S "127.0.0.1:${PORT}" -t "$(dirname "$0")/../public" "$(dirname "$0")/../public/index.php"'
            in start)
    for name in ("bin/migrate", "bin/start"):
        assert os.access(SOURCE / name, os.X_OK), f"{name} must be executable in the source tree"


def test_it_is_labelled_as_the_kits_reference_workload_everywhere():
    readme = (SOURCE / "README.md").read_text()
    assert readme.startswith("# regionkit reference workload")
    assert "not a Kota Tangerang app" in readme
    for name in PHP_FILES + ["bin/start"]:
        assert "regionkit reference workload" in (SOURCE / name).read_text(), name
    assert "It is not an app of Kota Tangerang" in (SOURCE / "lib" / "workload.php").read_text()


def test_the_php_stays_within_php_7_4():
    """Three catalog web apps run php-7.4: no syntax or functions that came with PHP 8."""
    banned = [r"\bmatch\s*\(", r"\?->", r"\bstr_contains\(", r"\bstr_starts_with\(", r"\bstr_ends_with\(",
              r"\):\s*(mixed|static|never)\b", r"#\[", r"\benum\s+\w+", r"\breadonly\b"]
    for name in PHP_FILES:
        code = re.sub(r"/\*.*?\*/|//[^\n]*|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "''",
                      (SOURCE / name).read_text(), flags=re.S)
        for pattern in banned:
            assert not re.search(pattern, code), f"{name}: {pattern}"


def test_secrets_are_only_read_from_files():
    code = (SOURCE / "lib" / "workload.php").read_text()
    assert "DB_PASSWORD_FILE" in code and "APP_KEY_FILE" in code
    assert "DB_PASSWORD'" not in code and '"DB_PASSWORD"' not in code
    assert "phpinfo" not in code and "var_dump" not in code and "print_r" not in code


# --- with PHP -------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_env(folder: Path, *, engine: str = "none", port: int = 3306, region: str = "Kabupaten Pandeglang",
              health: str = "/health") -> Path:
    """An env file as `regionkit render` writes one (see templates/apps/kinds/web/app.env.j2)."""
    (folder / "db_password").write_text(PASSWORD + "\n")
    (folder / "app_key").write_text(APP_KEY + "\n")
    lines = ["# Generated for a test", "APP_ID=" + quote("e-office"), "APP_NAME=" + quote("e-Office"),
             "APP_VERSION=" + quote("3.4.1"), "APP_URL=" + quote("https://e-office.example.go.id/"),
             "APP_HEALTH_PATH=" + quote(health), "APP_TIMEZONE=" + quote("Asia/Jakarta"),
             "REGION_KEY=" + quote("36.01"), "REGION_NAME=" + quote(region), "REGION_UNITS=69",
             "REGION_LOGO=" + quote("/branding/logo.png"), "REGION_PRIMARY_COLOUR=" + quote("#123456"),
             "REGION_ACCENT_COLOUR=" + quote("#abcdef"), "DB_ENGINE=" + quote(engine)]
    if engine != "none":
        lines += ["DB_HOST=" + quote("127.0.0.1"), f"DB_PORT={port}", "DB_NAME=" + quote("e_office"),
                  "DB_USER=" + quote("e_office"), "DB_PASSWORD_FILE=" + quote(str(folder / "db_password"))]
    lines += ["APP_KEY_FILE=" + quote(str(folder / "app_key"))]
    path = folder / "app.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_php(*args: str | Path, env_file: Path | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "REGIONKIT_ENV_FILE"}
    if env_file is not None:
        env["REGIONKIT_ENV_FILE"] = str(env_file)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, env=env)


@needs_php
@pytest.mark.parametrize("name", PHP_FILES)
def test_php_syntax(name: str):
    result = subprocess.run([PHP, "-l", str(SOURCE / name)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_php
def test_migrate_without_a_database_does_nothing(tmp_path: Path):
    result = run_php(SOURCE / "bin" / "migrate", env_file=write_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "nothing to migrate" in result.stdout


@needs_php
@pytest.mark.parametrize("engine", ["mariadb", "postgresql"])
def test_migrate_fails_clearly_when_the_database_is_unreachable(tmp_path: Path, engine: str):
    port = free_port()
    started = time.monotonic()
    result = run_php(SOURCE / "bin" / "migrate", env_file=write_env(tmp_path, engine=engine, port=port))
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    assert f"cannot connect to the {engine} database e_office at 127.0.0.1:{port}" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr and APP_KEY not in result.stdout + result.stderr


@needs_php
def test_migrate_without_configuration_exits_2(tmp_path: Path):
    result = run_php(SOURCE / "bin" / "migrate", env_file=tmp_path / "missing.env")
    assert result.returncode == 2 and "missing.env" in result.stderr


class Server:
    def __init__(self, base: str, process: subprocess.Popen):
        self.base = base
        self.process = process

    def get(self, path: str) -> tuple[int, dict, str]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture
def serve(tmp_path: Path):
    """Start `bin/start` (PHP's built-in server on 127.0.0.1:PORT) with an env file; stopped afterwards."""
    started: list[subprocess.Popen] = []

    def start(env_file: Path) -> Server:
        port = free_port()
        env = dict(os.environ, PORT=str(port), REGIONKIT_ENV_FILE=str(env_file), PHP_CLI_SERVER_WORKERS="2")
        process = subprocess.Popen([str(SOURCE / "bin" / "start")], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        started.append(process)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert process.poll() is None, "bin/start exited"
            server = Server(f"http://127.0.0.1:{port}", process)
            try:
                server.get("/ready")  # any answer, 200 or 503, means it serves
                return server
            except OSError:
                time.sleep(0.2)
        raise AssertionError("bin/start did not listen within 15 s")

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@needs_php
def test_health_without_a_database_is_ok(tmp_path: Path, serve):
    server = serve(write_env(tmp_path, health="/healthz"))
    for path in ("/healthz", "/healthz/", "/healthz?probe=1"):
        status, headers, body = server.get(path)
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        assert json.loads(body) == {
            "status": "ok", "app": "e-office", "version": "3.4.1", "region": "Kabupaten Pandeglang", "units": 69,
            "database": {"engine": "none", "host": None, "ok": True, "error": None}}


@needs_php
@pytest.mark.parametrize("engine", ["mariadb", "postgresql"])
def test_health_with_an_unreachable_database_is_503_and_degraded(tmp_path: Path, serve, engine: str):
    server = serve(write_env(tmp_path, engine=engine, port=free_port()))
    status, _, body = server.get("/health")
    assert status == 503
    document = json.loads(body)
    assert document["status"] == "degraded"
    assert document["database"]["engine"] == engine and document["database"]["host"] == "127.0.0.1"
    assert document["database"]["ok"] is False and document["database"]["error"]
    assert PASSWORD not in body and APP_KEY not in body


@needs_php
def test_every_other_path_shows_the_escaped_page(tmp_path: Path, serve):
    region = 'Kab <script>alert("x")</script> & Co'
    server = serve(write_env(tmp_path, engine="postgresql", port=free_port(), region=region))
    for path in ("/", "/surat/masuk", "/index.php"):
        status, headers, body = server.get(path)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert "<script>" not in body
        assert "Kab &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in body
        assert "e-Office" in body and "3.4.1" in body and ">69<" in body
        assert "#123456" in body and "#abcdef" in body and 'src="/branding/logo.png"' in body
        assert "unreachable" in body and "regionkit reference workload" in body
        assert PASSWORD not in body and APP_KEY not in body
