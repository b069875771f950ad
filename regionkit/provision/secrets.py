"""The region's secrets: generated per region, kept in an Ansible Vault file (0600), never printed or logged.

Secret names are `<app id>/<kind>`; which ones the chosen apps need is their plan's answer (regionkit.project.appplan).
The vault password comes from `--vault-password-file`, REGIONKIT_VAULT_PASSWORD_FILE, REGIONKIT_VAULT_PASSWORD,
the project's `.vault-pass` (kept out of git), or a prompt, in that order.
"""

from __future__ import annotations

import os
import secrets as random_source
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from regionkit.atomic import write_atomic
from regionkit.clock import utc_now
from regionkit.errors import InputError, Location
from regionkit.project.files import Project

PASSWORD_FILE_ENV = "REGIONKIT_VAULT_PASSWORD_FILE"
PASSWORD_ENV = "REGIONKIT_VAULT_PASSWORD"
REDACTED = "********"


@dataclass(frozen=True)
class VaultPassword:
    value: bytes
    source: str  # where it came from, for messages (never the value)


def vault_password(project_root: Path, explicit_file: Path | None = None,
                   prompt: Callable[[], str] | None = None) -> VaultPassword:
    """Find the vault password; InputError when there is none and no way to ask."""
    candidates = [(explicit_file, "--vault-password-file")]
    env_file = os.environ.get(PASSWORD_FILE_ENV)
    candidates.append((Path(env_file) if env_file else None, PASSWORD_FILE_ENV))
    for path, source in candidates:
        if path is not None:
            return VaultPassword(_read_password_file(Path(path)), f"{source} ({path})")
    if os.environ.get(PASSWORD_ENV):
        return VaultPassword(os.environ[PASSWORD_ENV].encode("utf-8"), PASSWORD_ENV)
    local = Project(project_root).password_path
    if local.is_file():
        return VaultPassword(_read_password_file(local), str(local))
    if prompt is not None:
        value = prompt()
        if value:
            return VaultPassword(value.encode("utf-8"), "prompt")
    raise InputError("no vault password", hint=f"give --vault-password-file FILE, set {PASSWORD_FILE_ENV} or "
                     f"{PASSWORD_ENV}, or create {local} (mode 0600; it is git-ignored)")


def create_password_file(project_root: Path) -> Path:
    """A new random vault password in the project's `.vault-pass` (0600), unless one exists."""
    path = Project(project_root).password_path
    if not path.exists():
        write_atomic(path, random_source.token_urlsafe(32) + "\n", mode=0o600)
    return path


def _read_password_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        value = path.read_bytes().strip()
    except OSError as exc:
        raise InputError(f"cannot read the vault password file: {exc.strerror}", Location(path)) from None
    if mode & 0o077:
        raise InputError("the vault password file is readable by others; run chmod 600 on it", Location(path))
    if not value:
        raise InputError("the vault password file is empty", Location(path))
    return value


class Vault:
    """The project's encrypted secrets file."""

    def __init__(self, project_root: Path, password: VaultPassword):
        from ansible.parsing.vault import VaultLib, VaultSecret

        self.path = Project(project_root).vault_path
        self._lib = VaultLib([("default", VaultSecret(password.value))])
        self._password = password

    def read(self) -> dict[str, Any]:
        """{"regionkit_secrets": {app: {kind: value}}, "regionkit_secrets_meta": {name: {...}}}."""
        if not self.path.exists():
            return {"regionkit_secrets": {}, "regionkit_secrets_meta": {}}
        from ansible.errors import AnsibleError

        try:
            plain = self._lib.decrypt(self.path.read_bytes())
        except AnsibleError:
            raise InputError(f"cannot decrypt with the vault password from {self._password.source}",
                             Location(self.path)) from None
        data = yaml.safe_load(plain) or {}
        data.setdefault("regionkit_secrets", {})
        data.setdefault("regionkit_secrets_meta", {})
        return data

    def write(self, data: dict[str, Any]) -> None:
        plain = yaml.safe_dump(data, sort_keys=True).encode("utf-8")
        write_atomic(self.path, self._lib.encrypt(plain), mode=0o600)

    def names(self) -> list[dict[str, str]]:
        """Which secrets exist, with when they were made: never their values."""
        data = self.read()
        meta = data["regionkit_secrets_meta"]
        return [{"name": f"{app}/{kind}", **meta.get(f"{app}/{kind}", {})}
                for app, kinds in sorted(data["regionkit_secrets"].items()) for kind in sorted(kinds)]

    def ensure(self, names: list[str]) -> list[str]:
        """Generate every missing secret among `names`; return the names created."""
        data = self.read()
        created = [name for name in names if _get(data, name) is None]
        for name in created:
            _set(data, name, _generate(name))
            data["regionkit_secrets_meta"][name] = {"created": utc_now(), "rotated": None}
        if created or not self.path.exists():
            self.write(data)
        return created

    def rotate(self, name: str) -> None:
        data = self.read()
        if _get(data, name) is None:
            known = [n["name"] for n in self.names()]
            raise InputError(f"no secret named '{name}'", hint=f"secrets: {', '.join(known) or 'none yet'}")
        _set(data, name, _generate(name))
        data["regionkit_secrets_meta"].setdefault(name, {})["rotated"] = utc_now()
        self.write(data)

    def values(self) -> list[str]:
        """Every secret value, for redaction of logs and records."""
        return [value for kinds in self.read()["regionkit_secrets"].values() for value in kinds.values() if value]


def redact(text: str, values: list[str]) -> str:
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def _generate(name: str) -> str:
    return random_source.token_urlsafe(24 if name.endswith("db_password") else 32)


def _get(data: dict, name: str) -> str | None:
    app, _, kind = name.partition("/")
    return data["regionkit_secrets"].get(app, {}).get(kind)


def _set(data: dict, name: str, value: str) -> None:
    app, _, kind = name.partition("/")
    data["regionkit_secrets"].setdefault(app, {})[kind] = value
