"""A region's rollout, prepared once: the checked profile, the catalog, the build, the vault and its secrets, the
artifacts, and the plan of what goes where, for deploy, plan, bundle and preflight alike.

A `Rollout` is opened from a region project (`Rollout.open`) or from a field bundle (`Rollout.from_bundle`:
verified, extracted, and deployed with the bundle's own playbooks and packages). Opening checks the project;
`prepare` does the rest in the order a deploy needs (render, secrets, artifacts, plan), and a bundle calls the
steps it needs one by one (`unlock`, `render`, `fetch_artifacts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from regionkit import __version__
from regionkit.catalog.model import Catalog
from regionkit.errors import InputError
from regionkit.field import bundle
from regionkit.project.appplan import DeploymentPlan, plan_deployment
from regionkit.project.checks import check_project
from regionkit.project.files import Project
from regionkit.project.region import Profile
from regionkit.provision.artifacts import fetch, project_store, resolve
from regionkit.provision.inventory import app_entries
from regionkit.provision.secrets import Vault, vault_password
from regionkit.render.build import Renderer

if TYPE_CHECKING:
    from regionkit.field.bundle import Verified
    from regionkit.provision.inventory import PlaybookApp
    from regionkit.provision.secrets import Vault, VaultPassword
    from regionkit.render.build import BuildResult



@dataclass(frozen=True)
class LocalArtifact:
    """An app's artifact, copied to the control node and checked there: `path` (in the project's cache) and
    its `sha256` (hex)."""

    path: Path
    sha256: str


@dataclass
class Rollout:
    """One region's rollout. `profile` is region.yaml, checked (no errors); `playbooks` and `apt_repo` are a
    field bundle's (`bundle`, what it was extracted from), else None: the kit's playbooks, the hosts' own apt.

    Prepared (`prepare`, or the steps one by one): `build` (the rendered build), `password` and `vault` (every
    secret the chosen apps need is in it), `artifacts` (app id -> LocalArtifact) and `apps`: every chosen
    installable app, dependencies first, as the playbooks read it (inventory.app_entries). `plan` is the
    deployment plan (appplan) that every step reads."""

    project: Project
    catalog: Catalog
    profile: Profile
    playbooks: Path | None = None
    apt_repo: Path | None = None
    bundle: Verified | None = None
    build: BuildResult | None = None
    password: VaultPassword | None = field(default=None, repr=False)  # never in a traceback or a log
    vault: Vault | None = field(default=None, repr=False)
    artifacts: dict[str, LocalArtifact] = field(default_factory=dict)
    apps: list[PlaybookApp] = field(default_factory=list)

    @cached_property
    def plan(self) -> DeploymentPlan:
        """The deployment plan of the chosen apps (appplan): what each needs on the servers, decided once."""
        return plan_deployment(self.profile, self.catalog)

    @classmethod
    def open(cls, project: Project, catalog: Catalog, doing: str = "deploying", *, playbooks: Path | None = None,
             apt_repo: Path | None = None, bundle: Verified | None = None) -> Rollout:
        """The rollout of `project`: its region.yaml checked against `catalog`. ValidationFailed (saying
        "fix these before `doing`") when the checks find errors; InputError when region.yaml is missing."""

        profile = check_project(project.profile_path, catalog).checked_profile(
            f"{project.profile_path}: fix these before {doing}")
        return cls(project, catalog, profile, playbooks, apt_repo, bundle)

    @classmethod
    def from_bundle(cls, file: Path, catalog: Catalog, workdir: Path | None = None,
                    public_key: Path | None = None) -> Rollout:
        """The rollout a field bundle holds: `file` verified (signed by `public_key` when given), extracted
        into `workdir` (default: `bundle.default_workdir`) or found there already, its project opened, its
        playbooks and Debian packages used. InputError when the bundle was made by another regionkit version
        (naming the wheels to install its own), ValidationFailed / InputError from `bundle.extract`."""

        file = Path(file)
        workdir = Path(workdir) if workdir is not None else bundle.default_workdir(file)
        verified = bundle.extract(file, workdir, public_key)
        made_by = verified.manifest.get("kit_version")
        if made_by != __version__:
            raise InputError(f"{file} was made by regionkit {made_by}; this is regionkit {__version__}",
                             hint=f"install the bundle's own: pip install --no-index --find-links "
                                  f"{workdir / 'wheels'} regionkit=={made_by}")
        return cls.open(Project(workdir / bundle.PROJECT), catalog, playbooks=workdir / "playbooks",
                        apt_repo=workdir / bundle.DEBS_ARCHIVE, bundle=verified)

    def unlock(self, password_file: Path | None = None, prompt: Callable[[], str] | None = None) -> Vault:
        """Open the project's vault (password from `password_file`, the environment, the project or `prompt`)
        and generate the secrets the chosen apps need that it lacks. InputError when there is no password."""

        self.password = vault_password(self.project.root, password_file, prompt)
        self.vault = Vault(self.project.root, self.password)
        self.vault.ensure(self.plan.secrets)
        return self.vault

    def render(self, root: Path | None = None) -> BuildResult:
        """Render the build into `root`/build (default: the project's), reading the project's files (units,
        logos, template overrides) from `root`."""

        root = self.project.root if root is None else root
        self.build = Renderer(root, self.profile, self.catalog).build(Project(root).build_dir)
        return self.build

    def fetch_artifacts(self) -> dict[str, LocalArtifact]:
        """app id -> local path and sha256 of the artifact each chosen app needs: a copy in the project's cache
        (`.regionkit/cache/artifacts/`) whose sha256 and size were checked here, on the control node, whatever
        the store (folder or URL); the playbook copies that file, never the store's. InputError when region.yaml
        names no store; OperationFailed naming the app and both sha256 when the store's file is not the one its
        index names."""

        needing = self.plan.with_artifact
        self.artifacts = {}
        if needing:
            store = project_store(self.project, self.profile)
            cache = self.project.artifact_cache
            for installed in needing:
                artifact = resolve(store, installed.id, installed.app.version)
                self.artifacts[installed.id] = LocalArtifact(fetch(artifact, cache), artifact.sha256)
        return self.artifacts

    def prepare(self, password_file: Path | None = None, prompt: Callable[[], str] | None = None) -> Rollout:
        """Everything a deploy needs, in its order: render, unlock the vault, fetch the artifacts, plan."""

        build = self.render()
        self.unlock(password_file, prompt)
        self.fetch_artifacts()
        self.apps = app_entries(self.plan, build.manifest, self.artifacts)
        return self

    @property
    def secret_values(self) -> list[str]:
        """Every secret value of the vault (to redact from run records); empty before `unlock`."""
        return self.vault.values() if self.vault is not None else []
