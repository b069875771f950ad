"""`regionkit deploy` and `regionkit plan`: render, gather secrets and artifacts, run the playbook, record it.

One deploy (or render) per project at a time: an flock that ansible-playbook inherits, so the kernel releases
it only when both we and the playbook are gone; the playbook dies with us. Every run keeps a record in
`.regionkit/runs/<run id>/`: the command, the events, the stderr log and a result per app and host, with every
secret value redacted. The ledger entries of a run are written before its record says how it ended; a run
whose record still says "running" when the next one takes the lock was killed: that next run records it as
"interrupted" and puts what its events show in the ledger. `--resume` continues the last failed or
interrupted run, skipping the apps that converged in it with the same config digest. The vault password
reaches ansible-playbook through an inherited pipe, never through a file.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets as random_source
import shlex
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from regionkit import __version__
from regionkit.atomic import write_atomic
from regionkit.audit import ledger
from regionkit.audit.agreements import find, load_agreements
from regionkit.catalog.model import Catalog
from regionkit.clock import utc_now
from regionkit.confined import read_project_file
from regionkit.errors import InputError, Location
from regionkit.project.appplan import served_names
from regionkit.project.files import Project
from regionkit.project.region import HostRole
from regionkit.provision import runner
from regionkit.provision.inventory import PlaybookApp, PlaybookRemoval, inventory, playbook_vars
from regionkit.provision.preflight import PreflightFailed, run_preflight
from regionkit.provision.rollout import Rollout
from regionkit.provision.runspec import RECORDED, REMOVED, RunSpec, playbook_run
from regionkit.provision.secrets import VaultPassword, redact

MAX_EVENTS_BYTES = 256 * 1024 * 1024  # a run's events.jsonl, read whole when a killed run is settled
PLATFORM = "(platform)"  # results of tasks that belong to no single app: base, databases, web server


@dataclass
class DeployOptions:
    check: bool = False
    resume: bool = False
    app: str | None = None
    limit: str | None = None
    vault_password_file: Path | None = None
    tuned: bool = True
    agreement: str | None = None  # the MoU/PKS number (agreements.yaml) the ledger entries refer to
    preflight: bool = False  # run regionkit.provision.preflight first; its blockers stop the deploy (PreflightFailed)
    operator: str = field(default_factory=lambda: os.environ.get("REGIONKIT_OPERATOR") or getpass.getuser())


@dataclass
class RunResult:
    run_id: str
    folder: Path
    status: str  # succeeded | failed | interrupted
    mode: str  # deploy | check | removal
    apps: dict[str, dict]
    hosts: dict[str, dict]
    skipped_converged: list[str]
    duration: float
    returncode: int
    failures: list[dict]
    urls: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


def deploy(rollout: Rollout, options: DeployOptions, on_event: Callable[[dict], None] = lambda event: None,
           prompt: Callable[[], str] | None = None) -> RunResult:
    """Prepare `rollout` (render, secrets, artifacts, plan), then run the playbook against the region's hosts
    (its bundle's playbooks and packages when it came from one); always leaves a run record."""
    project, catalog, profile = rollout.project, rollout.catalog, rollout.profile
    with project.lock() as lock:
        settle_abandoned_runs(project)
        if not profile.hosts:
            raise InputError("no hosts in region.yaml", hint="add servers, or `regionkit sandbox up 2` to rehearse")
        if options.app is not None and options.app not in profile.apps:
            raise InputError(f"app '{options.app}' is not chosen for this region", hint="see `regionkit apps list`")
        if options.agreement is not None:
            _check_agreement(project, options.agreement)
        if options.preflight:
            _preflight(rollout, options, on_event, interactive=None if prompt else False)
        rollout.prepare(options.vault_password_file, prompt)
        apps = chosen = rollout.apps
        carried: dict[str, str] = {}
        if options.resume:
            converged = _converged_in_last_run(project)
            carried = {a["id"]: a["config_digest"] for a in apps if converged.get(a["id"]) == a["config_digest"]}
        skipped = list(carried)
        if options.app is not None:
            apps = [a for a in apps if a["id"] == options.app]
        apps = [a for a in apps if a["id"] not in skipped]
        spec = playbook_run(project.ansible_dir, inventory(profile), "site.yml",
                            playbook_vars(profile, apps, project.build_dir, apt_repo=rollout.apt_repo,
                                             chosen=chosen),
                            playbooks=rollout.playbooks, tuned=options.tuned, limit=options.limit,
                            vault_file=project.vault_path, check=options.check)
        spec.write()
        record = _RunRecord(project, "check" if options.check else "deploy", rollout.secret_values,
                            _ledger_context(profile, catalog, options, apps, carried))
        outcome = _run_playbook(spec, record, options, skipped, on_event, lock, rollout.password)
        result = record.conclude(outcome)
        result.urls = _urls(profile, apps)
        with record.written():
            if not options.check:
                _record_in_ledger(project, record.meta, result.apps, result.failures, record.result["finished"])
        return result


def undeploy(project: Project, catalog: Catalog, app_ids: list[str], options: DeployOptions,
             on_event: Callable[[dict], None] = lambda event: None) -> RunResult:
    """Take apps that are no longer chosen off the region's web servers and record their removal.

    With no ids, every app the ledger records as running in this region that region.yaml no longer chooses.
    An app still chosen is refused: the next deploy would install it again.
    """

    with project.lock() as lock:
        settle_abandoned_runs(project)
        profile = project.profile()
        ledger_path = project.ledger_path
        history = ledger.read(ledger_path, must_exist=False)
        history.raise_if_broken()
        running = ledger.region_apps(history.entries, profile.region.key)
        if not app_ids:
            app_ids = sorted({r.app for r in running} - set(profile.apps))
            if not app_ids:
                raise InputError("nothing to remove: every app the ledger records as running here is still chosen")
        still_chosen = [a for a in app_ids if a in profile.apps]
        if still_chosen:
            raise InputError(f"still chosen for this region: {', '.join(still_chosen)}",
                             Location(project.profile_path),
                             hint=f"`regionkit apps remove {' '.join(still_chosen)}` first, or the next deploy "
                                  "installs them again")
        never = [a for a in app_ids if a not in {r.app for r in running}]
        if never:
            raise InputError(f"the ledger records no host of {profile.region.key} running {', '.join(never)}",
                             Location(ledger_path), hint=f"`regionkit audit region {profile.region.key}` lists "
                                                         "what runs here")
        if not any(HostRole.WEB in h.roles for h in profile.hosts):
            raise InputError("no web hosts in region.yaml to remove apps from", Location(project.profile_path))
        if options.agreement is not None:
            _check_agreement(project, options.agreement)
        versions = {r.app: r.version for r in running}
        apps: list[PlaybookRemoval] = [
            {"id": a, "version": versions.get(a) or (catalog.apps[a].version if a in catalog.apps else None),
             "config_digest": None} for a in app_ids]
        spec = playbook_run(project.ansible_dir, inventory(profile), "remove.yml",
                            playbook_vars(profile, [], project.build_dir, removing=apps),
                            tuned=options.tuned, limit=options.limit)
        spec.write()
        record = _RunRecord(project, "removal", [], _ledger_context(profile, catalog, options, apps, {}))
        outcome = _run_playbook(spec, record, options, [], on_event, lock, None)
        result = record.conclude(outcome)
        with record.written():
            _record_in_ledger(project, record.meta, result.apps, result.failures, record.result["finished"])
        return result


def _run_playbook(spec: RunSpec, record: _RunRecord, options: DeployOptions, skipped: list[str],
                  on_event: Callable[[dict], None], lock: int, password: VaultPassword | None) -> runner.Outcome:
    """Run `spec` holding the project `lock` (inherited by the playbook); every event to the record and
    `on_event`. With `password` the vault is opened through a pipe (or the file the options name)."""
    def handle(event: dict) -> None:
        record.event(event)
        on_event(event)

    return spec.run(handle, record.folder / "ansible.log", keep_fds=(lock,), password=password,
                    password_file=options.vault_password_file if password is not None else None,
                    on_start=lambda argv: record.start(argv, options, skipped))


def _preflight(rollout: Rollout, options: DeployOptions, on_event: Callable[[dict], None],
               interactive: bool | None) -> None:
    """Check the control node and the hosts before anything changes; blockers raise PreflightFailed."""

    report = run_preflight(rollout, limit=options.limit, interactive=interactive,
                           vault_password_file=options.vault_password_file, tuned=options.tuned)
    on_event({"event": "preflight", "report": report})
    if not report.ok:
        raise PreflightFailed(report)


def _ledger_context(profile, catalog: Catalog, options: DeployOptions, apps: Sequence[Mapping[str, Any]],
                    carried: dict[str, str]) -> dict[str, Any]:
    """What a run record keeps so that the run's ledger entries can be written from it alone."""
    return {"region": [profile.region.key, profile.region.name], "catalog_digest": catalog.digest,
            "agreement": options.agreement, "carried_over": carried,
            "deploying": [{"id": a["id"], "version": a["version"], "config_digest": a["config_digest"]}
                          for a in apps]}


def _record_in_ledger(project: Project, meta: dict, per_app: dict[str, dict], failures: list[dict],
                      finished: str) -> None:
    """One ledger entry per app and host the run (its record's `meta`) worked on, succeeded or failed.

    A check run records nothing; a removal records only the apps the ledger has running on that host."""

    if meta["mode"] == "check":
        return
    facts = ledger.facts_from_run(meta["deploying"], per_app, failures)
    removal = meta["mode"] == "removal"
    if removal:
        history = ledger.read(project.ledger_path, must_exist=False)
        history.raise_if_broken()
        running = {(r.app, r.host) for r in ledger.region_apps(history.entries, meta["region"][0])}
        facts = [replace(f, version=None) for f in facts if (f.app, f.host) in running]
    if facts:
        ledger.record_deploy(project.root, tuple(meta["region"]), facts, run_id=meta["run_id"],
                             operator=meta["operator"], kit_version=meta["kit_version"],
                             catalog_digest=meta["catalog_digest"], started=meta["started"], finished=finished,
                             agreement=meta["agreement"], removal=removal)


def settle_abandoned_runs(project: Project) -> list[str]:
    """Record runs that a kill left "running" as "interrupted", with the ledger entries their events show.

    Call it holding the project lock: then no record can belong to a live run (its playbook would hold the
    lock). The ledger entries are written unless the ledger already has some of that run (it was killed after
    writing them). Returns the run ids settled; raises InputError when the ledger is damaged."""

    folder = project.runs_dir
    stale = []
    for path in sorted(folder.glob("*/result.json")) if folder.is_dir() else []:
        meta = _run_record(project, path)
        if meta.get("status") == "running":
            stale.append((path, meta))
    if not stale:
        return []
    recorded = {e.run_id for e in ledger.read(project.ledger_path, must_exist=False).entries}
    for path, meta in stale:
        per_app, per_host, failures = summarise(_read_events(project, path.parent / "events.jsonl"))
        deploying = meta.get("deploying", [])
        finished = utc_now()
        if "region" in meta and meta["run_id"] not in recorded:
            _record_in_ledger(project, meta, per_app, failures, finished)
        converged = {a["id"]: a["config_digest"] for a in deploying
                     if meta["mode"] != "check" and _converged(per_app.get(a["id"]))}
        write_atomic(path, json.dumps({**meta, "status": "interrupted", "abandoned": True, "finished": finished,
                                       "apps": per_app, "hosts": per_host, "failures": failures,
                                       "converged": converged, "carried_over": meta.get("carried_over", {}),
                                       "config_digests": {a["id"]: a["config_digest"] for a in deploying}},
                                      indent=2, sort_keys=True) + "\n")
    return [meta["run_id"] for _, meta in stale]


def _read_events(project: Project, path: Path) -> list[dict]:
    """The events a run wrote (`path` inside `project`); a last line that a kill cut short is left out.
    InputError naming the file when it is a link, a fifo or another special file, or over MAX_EVENTS_BYTES."""

    events = []
    if os.path.lexists(path):
        data = read_project_file(project.root, path.relative_to(project.root).as_posix(), MAX_EVENTS_BYTES)
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def _check_agreement(project: Project, number: str) -> None:

    path = project.agreements_path
    known = load_agreements(path)
    if find(known, number) is None:
        raise InputError(f"no agreement numbered {number!r}", Location(path),
                         hint="`regionkit agreements list` shows them; `regionkit agreements add` records one")


def _urls(profile, apps: list[PlaybookApp]) -> list[dict]:
    """Where each deployed app answers: its address, and the web hosts that serve it."""
    web = [h.address for h in profile.hosts if HostRole.WEB in h.roles]
    urls = []
    for app in apps:
        urls += [{"app": app["id"], "unit": unit, "url": f"http://{name}/", "host_header": name, "servers": web}
                 for unit, name in served_names(profile.region.domain, app["fqdn"], app["sites"])]
    return urls


def last_run(project: Project) -> dict | None:
    """The last run record (`.regionkit/runs/<run id>/result.json`), None when there is none; InputError when it
    is damaged (see `_run_record`)."""
    runs = sorted(project.runs_dir.glob("*/result.json")) if project.runs_dir.is_dir() else []
    return _run_record(project, runs[-1]) if runs else None


def _run_record(project: Project, path: Path) -> dict:
    """The run record at `path` (inside `project`) as a JSON object. InputError (exit 2) naming the file when it
    is not one: not a regular file, unreadable, not UTF-8 JSON, nested too deep, or not an object."""

    data = read_project_file(project.root, path.relative_to(project.root).as_posix())
    try:
        meta = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        meta = exc
    if not isinstance(meta, dict):
        why = f"not JSON ({meta})" if isinstance(meta, Exception) else "not a JSON object"
        raise InputError(f"damaged run record: {why}", Location(path),
                         hint=f"move the run's folder {path.parent.name} out of "
                              f"{project.runs_dir.relative_to(project.root)}/ and run again")
    return meta


def _converged_in_last_run(project: Project) -> dict[str, str]:
    """app id -> config digest of the apps that converged in the last deploy that did not succeed."""
    previous = last_run(project)
    if previous is None:
        raise InputError("nothing to resume: no earlier deploy in this project")
    if previous["status"] == "succeeded":
        raise InputError(f"nothing to resume: the last deploy ({previous['run_id']}) succeeded")
    digests = dict(previous.get("converged", {}))
    digests.update(previous.get("carried_over", {}))
    return digests


class _RunRecord:
    """The folder that keeps what a run did, secrets redacted."""

    def __init__(self, project: Project, mode: str, secret_values: list[str], context: dict[str, Any]):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")  # sorts in start order
        self.run_id = f"{stamp}-{random_source.token_hex(3)}"
        self.folder = project.runs_dir / self.run_id
        self.folder.mkdir(parents=True)
        self.mode = mode
        self.secrets = secret_values
        self.started = time.monotonic()
        self.context = context  # see _ledger_context
        self.meta: dict[str, Any] = {}
        self.result: dict[str, Any] = {}
        self.events = open(self.folder / "events.jsonl", "w", encoding="utf-8")

    def start(self, argv: list[str], options: DeployOptions, skipped: list[str]) -> None:
        write_atomic(self.folder / "command.txt", self._clean(shlex.join(argv)) + "\n")
        self.meta = {"run_id": self.run_id, "mode": self.mode, "started": utc_now(), "operator": options.operator,
                     "kit_version": __version__, "apps_planned": [a["id"] for a in self.context["deploying"]],
                     "skipped_converged": skipped, "limit": options.limit, "app": options.app,
                     "tuned": options.tuned, "pid": os.getpid(), **self.context}
        self._write({**self.meta, "status": "running"})

    def event(self, event: dict) -> None:
        self.events.write(self._clean(json.dumps(event, sort_keys=True)) + "\n")
        self.events.flush()

    def conclude(self, outcome: runner.Outcome) -> RunResult:
        """How the run ended, kept in `result` for `written()` (the record still says "running")."""
        self.events.close()
        log = self.folder / "ansible.log"
        if log.exists():
            write_atomic(log, self._clean(log.read_text(encoding="utf-8", errors="replace")))
        per_app, per_host, failures = summarise(outcome.events)
        apps, carried = self.context["deploying"], self.context["carried_over"]
        converged = {a["id"]: a["config_digest"] for a in apps if _converged(per_app.get(a["id"]))}
        status = ("interrupted" if outcome.interrupted else "succeeded" if outcome.returncode == 0 and not failures
                  else "failed")
        duration = round(time.monotonic() - self.started, 3)
        self.result = {**self.meta, "status": status, "finished": utc_now(), "duration_s": duration,
                       "returncode": outcome.returncode, "apps": per_app, "hosts": per_host, "failures": failures,
                       "converged": converged if self.mode != "check" else {}, "carried_over": carried,
                       "config_digests": {a["id"]: a["config_digest"] for a in apps}}
        return RunResult(self.run_id, self.folder, status, self.mode, per_app, per_host, list(carried), duration,
                         outcome.returncode, failures)

    @contextmanager
    def written(self) -> Iterator[None]:
        """Write the run's end into its record after the block (the ledger entries), whatever it raises."""
        try:
            yield
        finally:
            self._write(self.result)

    def _write(self, data: dict) -> None:
        write_atomic(self.folder / "result.json", self._clean(json.dumps(data, indent=2, sort_keys=True)) + "\n")

    def _clean(self, text: str) -> str:
        return redact(text, self.secrets)


def summarise(events: list[dict]) -> tuple[dict[str, dict], dict[str, dict], list[dict]]:
    """Counts per app and per host (ok / changed / failed / unreachable / skipped), and the failures."""
    per_app: dict[str, dict] = defaultdict(lambda: {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0,
                                                    "skipped": 0, "hosts": [], "recorded_on": [],
                                                    "changed_tasks": []})
    per_host: dict[str, dict] = defaultdict(lambda: {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0,
                                                     "skipped": 0})
    failures = []
    for event in events:
        if event.get("event") != "result":
            continue
        status = event["status"]
        if status == "ignored":
            continue
        app = event.get("app") or PLATFORM
        host = event["host"]
        bucket = per_app[app]
        bucket[status] += 1
        per_host[host][status] += 1
        if host not in bucket["hosts"]:
            bucket["hosts"].append(host)
        if status == "changed" and event["task"] not in bucket["changed_tasks"]:
            bucket["changed_tasks"].append(event["task"])
        if (event.get("phase") in (RECORDED, REMOVED) and status in ("ok", "changed")
                and host not in bucket["recorded_on"]):
            bucket["recorded_on"].append(host)
        if status in ("failed", "unreachable"):
            failures.append({"app": event.get("app"), "host": host, "task": event["task"],
                             "msg": event.get("msg", "")})
    return dict(per_app), dict(per_host), failures


def _converged(counts: dict | None) -> bool:
    if not counts:
        return False
    return counts["failed"] == 0 and counts["unreachable"] == 0 and bool(counts["recorded_on"])
