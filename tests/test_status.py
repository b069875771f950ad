"""`regionkit status`: health checks of what the ledger records as running, against a real local HTTP server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from regionkit.audit.ledger import AppHostFact, record_deploy
from regionkit.project.files import Project
from regionkit.provision import status as status_module

PDG = ("36.01", "Kabupaten Pandeglang")
DOMAIN = "pandeglangkab.go.id"
HOSTS = """hosts:
  - {name: web1, address: 127.0.0.1, roles: [web]}
  - {name: web2, address: 127.0.0.2, roles: [web]}
  - {name: db1, address: 127.0.0.3, roles: [db]}
"""


class Site:
    """A local web server answering per Host header, like nginx on a web host; it notes every request."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.delay: dict[str, float] = {}
        self.requests: list[tuple[str, str]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                host = self.headers.get("Host", "")
                site.requests.append((host, self.path))
                time.sleep(site.delay.get(host, 0))
                code, body = site.answers.get(host, (404, b"not found"))
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # nginx's backlog is 511; the default 5 would stall concurrent checks

            def handle_error(self, request, client_address) -> None:
                pass  # a client that gave up (the timeout test) is no error of the server's

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def health(self, app: str, version: str, code: int = 200, answers_as: str | None = None) -> None:
        document = {"status": "ok", "app": answers_as or app, "version": version, "region": PDG[1]}
        self.answers[f"{app}.{DOMAIN}"] = (code, json.dumps(document).encode())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(monkeypatch):
    served = Site()
    monkeypatch.setattr(status_module, "HTTP_PORT", served.port)  # the hosts' port 80, for the tests
    yield served
    served.close()


def deploy(root: Path, facts: list[tuple], day: int, removal: bool = False) -> None:
    record_deploy(root, PDG, [AppHostFact(*f) for f in facts], run_id=f"run-{day}", operator="budi",
                  kit_version="0.1.0", catalog_digest="c" * 64, started=f"2021-11-{day:02d}T01:00:00Z",
                  finished=f"2021-11-{day:02d}T01:30:00Z", removal=removal)


@pytest.fixture
def region(project: Path, site: Site) -> Path:
    """e-office, api-gateway and the OPD websites on web1, all answering; laksa deployed then removed."""
    profile = project / "region.yaml"
    profile.write_text(profile.read_text().replace("hosts: []\n", HOSTS))
    deploy(project, [("e-office", "web1", "3.2.0", True), ("api-gateway", "web1", "1.4.0", True),
                     ("website-opd", "web1", "2.1.0", True), ("laksa", "web1", "2.0.0", True)], day=10)
    deploy(project, [("laksa", "web1", None, True)], day=11, removal=True)
    site.health("e-office", "3.2.0")
    site.health("api-gateway", "1.4.0")
    for code in opd_codes(project):
        site.answers[f"{code}.{DOMAIN}"] = (200, b"<html>Kabupaten Pandeglang</html>")
    return project


def opd_codes(root: Path) -> list[str]:
    return [u.code for u in Project(root).profile().units if u.kind == "opd"]


def test_all_up_exit_0_with_versions_and_what_was_asked(cli, region, site):
    result = cli("status")
    assert result.exit_code == 0, result.output
    for text in ("web1 (127.0.0.1)", "e-office", "3.2.0", "api-gateway", "1.4.0", "website-opd: diskominfo",
                 "2021-11-10T01:30:00Z", "36 up, 0 down"):
        assert text in result.stdout
    assert "laksa" not in result.stdout
    assert (f"e-office.{DOMAIN}", "/health") in site.requests
    assert (f"api-gateway.{DOMAIN}", "/healthz") in site.requests  # the catalog's health path
    assert (f"diskominfo.{DOMAIN}", "/") in site.requests
    assert len(site.requests) == 36  # 2 apps + 34 OPD websites; nothing else


def test_json_lists_every_app_and_site_per_host(cli, region):
    data = cli.json("status", "--json")
    assert (data["region"], data["up"], data["down"], data["unknown"], data["ok"]) == ("36.01", 36, 0, 0, True)
    by_name = {(c["app"], c["unit"]): c for c in data["checks"]}
    assert "laksa" not in {c["app"] for c in data["checks"]}  # its removal is in the ledger
    office = by_name[("e-office", None)]
    assert (office["host"], office["address"], office["version"], office["host_version"], office["result"],
            office["http_status"], office["operator"]) == ("web1", "127.0.0.1", "3.2.0", "3.2.0", "up", 200, "budi")
    assert office["ms"] >= 0 and office["since"] == "2021-11-10T01:30:00Z"
    assert {u for a, u in by_name if a == "website-opd"} == set(opd_codes(region))
    assert by_name[("website-opd", "diskominfo")]["host_header"] == f"diskominfo.{DOMAIN}"


def test_a_stopped_service_behind_nginx_is_down_with_exit_1(cli, region, site):
    site.answers[f"api-gateway.{DOMAIN}"] = (502, b"<html>502 Bad Gateway</html>")
    result = cli("status", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    down = [c for c in data["checks"] if c["result"] != "up"]
    assert [(c["app"], c["host"], c["http_status"], c["detail"]) for c in down] == [
        ("api-gateway", "web1", 502, "HTTP 502 Bad Gateway")]
    assert (data["up"], data["down"], data["ok"]) == (35, 1, False)
    table = cli("status")
    assert table.exit_code == 1 and "35 up, 1 down" in table.stdout and "HTTP 502" in table.stdout


def test_connection_refused_is_down(cli, region):
    deploy(region, [("sigap", "web2", "1.0.0", True)], day=12)  # nothing listens on 127.0.0.2
    result = cli("status", "--json", "--host", "web2")
    assert result.exit_code == 1
    (check,) = json.loads(result.stdout)["checks"]
    assert (check["app"], check["host"], check["result"]) == ("sigap", "web2", "down")
    assert check["detail"].startswith("connection refused")


def test_an_answer_from_another_app_or_a_failing_health_is_down(cli, region, site):
    site.health("e-office", "3.2.0", answers_as="laksa")
    site.answers[f"diskominfo.{DOMAIN}"] = (404, b"not found")
    data = json.loads(cli("status", "--json").stdout)
    down = {(c["app"], c["unit"]): c["detail"] for c in data["checks"] if c["result"] == "down"}
    assert down == {("e-office", None): "answered as app 'laksa'",
                    ("website-opd", "diskominfo"): "HTTP 404 Not Found"}


def test_a_host_that_reports_another_version_is_shown(cli, region, site):
    site.health("e-office", "3.3.0")
    data = cli.json("status", "--json", "--app", "e-office")
    (check,) = data["checks"]
    assert (check["result"], check["version"], check["host_version"]) == ("up", "3.2.0", "3.3.0")
    assert check["detail"] == "host reports version 3.3.0"


def test_timeout_and_checks_run_concurrently(cli, region, site):
    for code in opd_codes(region):
        site.delay[f"{code}.{DOMAIN}"] = 0.3
    started = time.monotonic()
    assert cli("status", "--app", "website-opd").exit_code == 0
    assert time.monotonic() - started < 34 * 0.3 / 3  # 34 sites of 0.3 s each, side by side
    site.delay[f"e-office.{DOMAIN}"] = 1.5
    result = cli("status", "--json", "--app", "e-office", "--timeout", "0.3")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["checks"][0]["detail"] == "no answer within 0.3 s"


def test_a_host_no_longer_in_region_yaml_is_not_contacted(cli, region, site):
    deploy(region, [("sigap", "old-web", "1.0.0", True)], day=12)
    result = cli("status", "--json", "--app", "sigap")
    assert result.exit_code == 1
    (check,) = json.loads(result.stdout)["checks"]
    assert (check["host"], check["address"], check["result"]) == ("old-web", None, "unknown")
    assert "not in region.yaml" in check["detail"]
    assert not any(host.startswith("sigap.") for host, _ in site.requests)


def test_nothing_deployed_is_exit_2(cli, project):
    result = cli("status")
    assert result.exit_code == 2 and "the ledger records no app deployed in 36.01" in result.stderr
    deploy(project, [("e-office", "web1", "3.2.0", True)], day=10)
    deploy(project, [("e-office", "web1", None, True)], day=11, removal=True)
    result = cli("status", "--json")
    assert result.exit_code == 2 and "no app deployed" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("args, message", [
    (["--app", "sigap"], "--app sigap: the ledger records it as running on no host"),
    (["--host", "web9"], "--host: no host named web9"),
    (["--host", "db1"], "--host db1: the ledger records no app running there"),
    (["--timeout", "0"], "--timeout 0: expected a number of seconds above 0"),
    (["--timeout", "inf"], "--timeout inf: expected a number of seconds above 0"),
])
def test_bad_input_is_exit_2_with_one_line(cli, region, args, message):
    result = cli("status", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_a_broken_ledger_is_refused(cli, region):
    path = region / "ledger.jsonl"
    path.write_text(path.read_text().replace("3.2.0", "9.9.9"))
    result = cli("status")
    assert result.exit_code == 2 and "does not verify" in result.stderr


def test_targets_take_the_health_path_from_the_plan(region):
    """The plan's health path is checked for its health document; unit sites (even with no unit left in
    region.yaml) and apps the catalog no longer has are checked at "/" as pages."""
    from regionkit.audit.ledger import Running
    from regionkit.catalog.model import load_catalog

    profile = Project(region).profile()
    no_units = profile.model_copy(update={"units": []})

    def running(app: str) -> Running:
        return Running(*PDG, app, "web1", "1.0.0", "2021-11-10T01:30:00Z", "budi", "run", None, 1)

    found = {(t.app, t.unit): (t.host_header, t.path, t.health_document) for t in status_module.targets(
        no_units, load_catalog(), [running("api-gateway"), running("website-opd"), running("gone-app")])}
    assert found == {("api-gateway", None): (f"api-gateway.{DOMAIN}", "/healthz", True),
                     ("website-opd", None): (f"website-opd.{DOMAIN}", "/", False),
                     ("gone-app", None): (f"gone-app.{DOMAIN}", "/", False)}
