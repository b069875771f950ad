"""`regionkit status`: is every deployed app and unit site answering on its hosts, and how fast?

What should run comes from the adoption ledger (per app and host: version, since, operator). Each app is
checked on each host it runs on with an HTTP GET from this machine to the host's address: the Host header is
the app's name (`<app>.<domain>`, or `<unit>.<domain>` for each unit site), the path its catalog health path
(unit sites: `/`). Only the addresses of the hosts in region.yaml are ever contacted.
"""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from regionkit.audit import ledger
from regionkit.catalog.model import Catalog
from regionkit.errors import InputError, Location
from regionkit.project.appplan import app_fqdn, plan_deployment
from regionkit.project.files import Project
from regionkit.project.region import Profile

HTTP_PORT = 80
DEFAULT_TIMEOUT = 5.0
MAX_TIMEOUT = 600.0
MAX_WORKERS = 32
BODY_LIMIT = 65536  # a health document is small; a page is read no further than this

UP, DOWN, UNKNOWN = "up", "down", "unknown"


@dataclass(frozen=True)
class Target:
    """One app (or one unit site of a unit-site app) on one host, as the ledger records it."""

    app: str
    unit: str | None
    host: str  # the host's name in region.yaml
    address: str | None  # None: the ledger names a host region.yaml no longer lists
    host_header: str
    path: str
    version: str
    since: str
    operator: str
    health_document: bool  # the path answers with the app's health JSON (not a unit site's page)


@dataclass(frozen=True)
class Check:
    """What one target answered."""

    target: Target
    result: str  # up | down | unknown
    detail: str
    http_status: int | None = None
    ms: float | None = None
    host_version: str | None = None  # the version the app's health document reports

    def record(self) -> dict:
        t = self.target
        return {"app": t.app, "unit": t.unit, "host": t.host, "address": t.address, "host_header": t.host_header,
                "path": t.path, "version": t.version, "since": t.since, "operator": t.operator,
                "result": self.result, "http_status": self.http_status, "ms": self.ms, "detail": self.detail,
                "host_version": self.host_version}


@dataclass(frozen=True)
class Status:
    region: str
    checks: list[Check]

    def count(self, result: str) -> int:
        return sum(1 for c in self.checks if c.result == result)

    @property
    def ok(self) -> bool:
        return all(c.result == UP for c in self.checks)

    def record(self) -> dict:
        return {"region": self.region, "up": self.count(UP), "down": self.count(DOWN),
                "unknown": self.count(UNKNOWN), "ok": self.ok, "checks": [c.record() for c in self.checks]}


def status(project: Project, catalog: Catalog, app: str | None = None, hosts: list[str] | None = None,
           timeout: float = DEFAULT_TIMEOUT) -> Status:
    """Check every app and unit site the ledger records as running in this region (optionally one app, some
    hosts). An InputError when nothing is recorded as running, or a filter names nothing."""
    if not 0 < timeout <= MAX_TIMEOUT:
        raise InputError(f"--timeout {timeout:g}: expected a number of seconds above 0, at most {MAX_TIMEOUT:g}")
    profile = project.profile()
    read = ledger.read(project.ledger_path, must_exist=False)
    read.raise_if_broken()
    running = ledger.region_apps(read.entries, profile.region.key)
    if not running:
        raise InputError(f"the ledger records no app deployed in {profile.region.key} {profile.region.name}",
                         Location(read.path), hint="`regionkit deploy` installs the chosen apps")
    if app is not None:
        running = [r for r in running if r.app == app]
        if not running:
            raise InputError(f"--app {app}: the ledger records it as running on no host of this region",
                             hint="`regionkit audit region` lists what runs")
    if hosts:
        known = {h.name for h in profile.hosts} | {r.host for r in running}
        unknown = [h for h in hosts if h not in known]
        if unknown:
            raise InputError(f"--host: no host named {', '.join(unknown)}", Location(project.profile_path),
                             hint=f"hosts: {', '.join(sorted(known))}")
        running = [r for r in running if r.host in hosts]
        if not running:
            raise InputError(f"--host {','.join(hosts)}: the ledger records no app running there")
    return Status(profile.region.key, check_all(targets(profile, catalog, running), timeout, HTTP_PORT))


def targets(profile: Profile, catalog: Catalog, running: list[ledger.Running]) -> list[Target]:
    """One target per running app and host; a unit-site app gives one per unit site (as deploy lists them)."""
    ids = {r.app for r in running if r.app in catalog.apps}
    as_chosen = profile.model_copy(update={"apps": {a: profile.apps.get(a) for a in ids}})
    installed = {i.id: i for i in plan_deployment(as_chosen, catalog).installed}
    addresses = {h.name: h.address for h in profile.hosts}
    found = []
    for r in running:
        app = installed.get(r.app)
        # no longer an installable app of the catalog: its name is still known, its health path is not
        names = list(app.names) if app is not None else [(None, app_fqdn(r.app, profile))]
        health = app.health if app is not None else None  # None: a page ("/"), not a health document
        for unit, name in names:
            found.append(Target(r.app, unit, r.host, addresses.get(r.host), name, health or "/",
                                r.version, r.since, r.operator, health_document=health is not None))
    return found


def check_all(found: list[Target], timeout: float = DEFAULT_TIMEOUT, port: int = HTTP_PORT) -> list[Check]:
    """Check every target concurrently; the checks come back in the order of the targets."""
    if not found:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(found))) as pool:
        return list(pool.map(lambda t: check(t, timeout, port), found))


def check(target: Target, timeout: float = DEFAULT_TIMEOUT, port: int = HTTP_PORT) -> Check:
    """GET the target's path from its host with its Host header: up on a 2xx answer that is the app's own."""
    if target.address is None:
        return Check(target, UNKNOWN, f"host {target.host} is not in region.yaml: not checked")
    started = time.monotonic()
    connection = http.client.HTTPConnection(target.address, port, timeout=timeout)
    try:
        connection.request("GET", target.path, headers={"Host": target.host_header, "Connection": "close",
                                                        "User-Agent": "regionkit-status"})
        response = connection.getresponse()
        body = response.read(BODY_LIMIT)
    except ConnectionRefusedError:
        return Check(target, DOWN, f"connection refused on port {port}", ms=_ms(started))
    except TimeoutError:
        return Check(target, DOWN, f"no answer within {timeout:g} s", ms=_ms(started))
    except http.client.RemoteDisconnected:
        return Check(target, DOWN, "closed the connection without answering (no site by that name?)",
                     ms=_ms(started))
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return Check(target, DOWN, reason, ms=_ms(started))
    finally:
        connection.close()
    ms = _ms(started)
    if not 200 <= response.status < 300:
        return Check(target, DOWN, f"HTTP {response.status} {response.reason}".rstrip(), response.status, ms)
    document = _health_document(body) if target.health_document else None
    if document is None:
        return Check(target, UP, "", response.status, ms)
    answered_as = document.get("app")
    if answered_as is not None and answered_as != target.app:
        return Check(target, DOWN, f"answered as app {answered_as!r}", response.status, ms)
    reported = document.get("version") if isinstance(document.get("version"), str) else None
    detail = f"host reports version {reported}" if reported and reported != target.version else ""
    return Check(target, UP, detail, response.status, ms, reported)


def _health_document(body: bytes) -> dict | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, 5000-digit numbers, nested thousands deep
        return None
    return document if isinstance(document, dict) else None


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)

