"""The deployment plan decides what each app needs once; every consumer agrees with it (issue 12, items 1-2).

The golden file `data/playbook-vars-pandeglang.yml` is the vars.yml a sample region produces (Kabupaten
Pandeglang 36.01, preset pandeglang-2021 and website-opd, as tests/fleet.py `sample_project` builds it, with fixed
hosts, build folder, artifacts and config digests). After an intended change of the contract with the
playbooks, regenerate it with `REGIONKIT_REGOLD=1 python -m pytest tests/test_appplan.py` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import DATA, Cli, with_hosts

from regionkit.catalog.model import Database, InstallableApp, Kind, load_catalog
from regionkit.project.appplan import DB_PORTS, Serves, plan_deployment
from regionkit.project.checks import check_project
from regionkit.project.region import Host, HostRole, load_profile
from regionkit.provision.inventory import app_entries, playbook_vars
from regionkit.provision.preflight import host_needs
from regionkit.provision.runspec import ansible_yaml
from regionkit.provision.secrets import Vault, VaultPassword, vault_password
from regionkit.provision.serverpaths import DATA as DATA_ROOT
from regionkit.provision.serverpaths import ROOT as APPS_ROOT
from regionkit.render.context import build_contexts

GOLDEN = DATA / "playbook-vars-pandeglang.yml"
KIT = load_catalog()
EVERY_APP = list(KIT.apps)
UNIT_SITES = [a for a, app in KIT.apps.items() if app.kind == Kind.UNIT_SITE]


def fixed_inputs(profile, catalog):
    """The playbook vars' inputs that a real run takes from the build and the artifact store, made fixed."""
    plan = plan_deployment(profile, catalog)
    manifest = {"apps": {p.id: {"inputs_digest": f"digest-of-{p.id}"} for p in plan.installed}}
    artifacts = {p.id: SimpleNamespace(path=Path(f"/artifacts/{p.id}-{p.app.version}.tar.gz"), sha256="ab" * 32)
                 for p in plan.with_artifact}
    return plan, app_entries(plan, manifest, artifacts)


WEB_ONLY = "hosts:\n  - {name: web1, address: 192.0.2.11, roles: [web]}\n"
DB_HOST = Host(name="db1", address="192.0.2.12", roles=[HostRole.DB])


@pytest.fixture(scope="module")
def everything(tmp_path_factory) -> Path:
    """The Pandeglang project with every app of the kit's catalog chosen, on one web host (and no db host)."""
    root = tmp_path_factory.mktemp("everything") / "pdg"
    cli = Cli()
    assert cli("init", root, "--region", "36.01", "--no-input").exit_code == 0
    (root / "region.yaml").write_text((root / "region.yaml").read_text().replace("hosts: []\n", WEB_ONLY))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert cli("apps", "add", *EVERY_APP).exit_code == 0
    return root


@pytest.fixture(scope="module")
def agreement(everything, tmp_path_factory):
    """Every consumer's answers for every app, on a web and a db host."""
    chosen = load_profile(everything / "region.yaml")
    profile = chosen.model_copy(update={"hosts": [*chosen.hosts, DB_HOST]})
    plan, entries = fixed_inputs(profile, KIT)
    vault = Vault(tmp_path_factory.mktemp("vault"), VaultPassword(b"test password", "test"))
    vault.ensure(plan.secrets)
    contexts = {c.app.id: c.app for c in build_contexts(profile, KIT, "test")}
    variables = playbook_vars(profile, entries, Path("/build"))
    return profile, plan, vault, contexts, variables


def expected_engine(app):
    """The rule, written out: installed apps other than unit sites get the database the catalog names."""
    if not isinstance(app, InstallableApp) or app.kind == Kind.UNIT_SITE or app.database == Database.NONE:
        return None
    return app.database


def test_every_app_of_the_kit_is_planned(agreement):
    _, plan, *_ = agreement
    assert list(plan.apps) == KIT.closure(EVERY_APP)


@pytest.mark.parametrize("app_id", EVERY_APP)
def test_vault_context_and_playbook_vars_agree_with_the_plan(agreement, app_id):
    _, plan, vault, contexts, variables = agreement
    app_plan = plan.apps[app_id]
    installed = app_plan.installation
    assert (installed is not None) == isinstance(KIT.apps[app_id], InstallableApp)
    database = installed.database if installed else None
    engine = expected_engine(KIT.apps[app_id])
    assert (database.engine if database else None) == engine
    # the vault holds exactly the plan's secrets: app_key for every web or service app, db_password with a database
    in_vault = {n["name"] for n in vault.names() if n["name"].startswith(f"{app_id}/")}
    assert in_vault == set(app_plan.secrets)
    assert (f"{app_id}/db_password" in in_vault) == (engine is not None)
    assert (f"{app_id}/app_key" in in_vault) == (installed is not None and installed.app.kind != Kind.UNIT_SITE)
    # the render context's database section and serving are the plan's
    view = contexts[app_id]
    assert view.database == database
    if engine is not None:
        assert (view.database.engine, view.database.port) == (engine, DB_PORTS[engine])
    assert view.serves == (installed.serves.value if installed else None)
    # the playbook vars: one entry per installed app, and a database account exactly for apps with a database
    entry = next((a for a in variables["regionkit_apps"] if a["id"] == app_id), None)
    assert (entry is not None) == (installed is not None)
    if entry is not None:
        assert entry["database"] == (engine.value if engine else "none")
        assert (entry["db_name"], entry["db_user"]) == ((view.database.name, view.database.user) if engine
                                                        else (None, None))
        assert entry["serves"] == view.serves and entry["upstream_port"] == view.upstream_port
        assert installed is not None
        assert installed.health == (None if installed.app.kind == Kind.UNIT_SITE else installed.app.health)
        assert (entry["artifact"] is not None) == installed.needs_artifact == (installed.app.kind in (Kind.WEB,
                                                                                                     Kind.SERVICE))
    accounts = [d for d in variables["regionkit_databases"] if d["id"] == app_id]
    assert accounts == ([{"id": app_id, "database": engine.value, "db_name": view.database.name,
                          "db_user": view.database.user}] if engine else [])


def test_preflight_needs_agree_with_the_plan(agreement):
    profile, plan, *_ = agreement
    needs = host_needs(profile, KIT)
    with_db = [p.app for p in plan.apps.values() if expected_engine(p.app)]
    assert {p.id for p in plan.with_database} == {a.id for a in with_db}
    assert needs["db1"].disk_mb == {DATA_ROOT: sum(a.resources.disk_mb for a in with_db)}
    assert sorted(needs["db1"].ports) == sorted({DB_PORTS[a.database] for a in with_db})
    installed = plan.installed
    assert needs["web1"].disk_mb == {APPS_ROOT: sum(p.app.resources.disk_mb for p in installed)}
    services = {use.app for use in needs["web1"].ports.values() if use.app}
    assert services == {p.id for p in installed if p.serves == Serves.SERVICE}


def test_project_checks_count_the_plans_databases(everything):
    profile_path = everything / "region.yaml"
    plan = plan_deployment(load_profile(profile_path), KIT)
    problems = [p.message for p in check_project(profile_path, KIT).errors if "db role" in p.message]
    assert len(problems) == 1
    assert f"{len(plan.with_database)} chosen apps need a database" in problems[0]


def test_unit_sites_alone_need_no_database_host(cli, project):
    """Item 2: the unit-site apps (three of them said `database: mariadb`) get no database, no db_password, no
    database section, and need no db host, because no playbook creates one for them."""
    profile_path = project / "region.yaml"
    profile_path.write_text(profile_path.read_text().replace("hosts: []\n", WEB_ONLY))
    assert cli("apps", "add", *UNIT_SITES).exit_code == 0
    assert {"website-opd", "website-kecamatan", "website-uptd"} <= set(UNIT_SITES)
    profile = load_profile(profile_path)
    plan = plan_deployment(profile, KIT)
    sites = [plan.apps[a] for a in UNIT_SITES]
    assert all(p.installation and p.installation.database is None for p in sites)
    assert all(p.secrets == () for p in sites)  # the unit_sites role reads no secret
    with_db = plan.with_database  # the dependencies the unit sites pull in (sso, portal-egov)
    assert with_db and {p.id for p in with_db}.isdisjoint(UNIT_SITES)
    errors = [p.message for p in check_project(profile_path, KIT).errors if "db role" in p.message]
    assert errors == [f"no host has the db role, and {len(with_db)} chosen apps need a database "
                      f"({', '.join(p.id for p in with_db)})"]
    needs = host_needs(profile.model_copy(update={"hosts": [*profile.hosts, DB_HOST]}), KIT)
    assert needs["db1"].disk_mb == {DATA_ROOT: sum(p.app.resources.disk_mb for p in with_db)}
    assert all(c.app.database is None for c in build_contexts(profile, KIT, "test") if c.app.id in UNIT_SITES)
    _, entries = fixed_inputs(profile, KIT)
    assert {e["database"] for e in entries if e["id"] in UNIT_SITES} == {"none"}
    databases = playbook_vars(profile, entries, Path("/build"))["regionkit_databases"]
    assert [d["id"] for d in databases] == [p.id for p in with_db]


def test_a_vault_with_a_unit_sites_old_db_password_is_kept(cli, project):
    """A vault made before item 2 holds website-opd/db_password and app_key: `secrets generate` (and the deploy's
    ensure) keeps them and adds only what is missing."""
    assert cli("apps", "add", "website-opd").exit_code == 0
    vault = Vault(project, vault_password(project))
    vault.ensure(["website-opd/db_password", "website-opd/app_key"])
    before = vault.read()["regionkit_secrets"]["website-opd"]
    result = cli("secrets", "generate")
    assert result.exit_code == 0, result.output
    plan = plan_deployment(load_profile(project / "region.yaml"), KIT)
    assert {n["name"] for n in vault.names()} == set(plan.secrets) | {"website-opd/db_password",
                                                                       "website-opd/app_key"}
    assert vault.read()["regionkit_secrets"]["website-opd"] == before


def test_playbook_vars_of_the_sample_region_match_the_golden_file(cli, project):
    with_hosts(project)
    assert cli("apps", "add", "--preset", "pandeglang-2021", "website-opd").exit_code == 0
    profile = load_profile(project / "region.yaml")
    _, entries = fixed_inputs(profile, KIT)
    text = ansible_yaml(dict(playbook_vars(profile, entries, Path("/build"))))
    if os.environ.get("REGIONKIT_REGOLD"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "the playbook vars changed; see this file's docstring to regenerate"
