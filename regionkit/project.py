"""A region project on disk: its folder, its profile, and edits that keep the profile's comments."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionkit.atomic import write_atomic
from regionkit.errors import InputError, Location
from regionkit.region import PROFILE_NAME, Profile, find_project, load_profile
from regionkit.selection import Choice
from regionkit.yamldoc import read_text


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def locate(cls, start: Path | None = None) -> Project:
        return cls(find_project(start))

    @property
    def profile_path(self) -> Path:
        return self.root / PROFILE_NAME

    def profile(self) -> Profile:
        """The validated profile; any problem in region.yaml is a ValidationFailed naming its line."""
        return load_profile(self.profile_path)

    def write_choice(self, choice: Choice) -> None:
        """Rewrite the `apps` section of region.yaml, keeping every comment and the rest of the file as is."""
        yaml = _round_trip_yaml()
        text = read_text(self.profile_path)
        document = yaml.load(text)
        apps = document.get("apps")
        if apps is None or not hasattr(apps, "fa"):
            raise InputError("expected `apps:` to be a mapping", Location(self.profile_path, field="apps"))
        from ruamel.yaml.comments import CommentedMap

        for app_id in [a for a in apps if a not in choice]:
            del apps[app_id]
        for app_id, auto in choice.items():
            entry = apps.get(app_id)
            if not isinstance(entry, dict):
                entry = CommentedMap()
                entry.fa.set_flow_style()
                apps[app_id] = entry
            if auto:
                entry["auto"] = True
            else:
                entry.pop("auto", None)
        apps.fa.set_block_style() if choice else apps.fa.set_flow_style()
        out = io.StringIO()
        yaml.dump(document, out)
        write_atomic(self.profile_path, out.getvalue())

    def write_hosts(self, hosts: list[dict[str, Any]], replaces: Callable[[Any], bool]) -> None:
        """Rewrite the `hosts` section of region.yaml: drop the entries `replaces` picks, append `hosts` (one line
        each), keep the other hosts, every comment and the rest of the file as is."""
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        yaml = _round_trip_yaml()
        document = yaml.load(read_text(self.profile_path))
        if not isinstance(document, dict):
            raise InputError("expected a mapping", Location(self.profile_path))
        entries = document.get("hosts")
        if entries is None:
            entries = document["hosts"] = CommentedSeq()
        if not isinstance(entries, CommentedSeq):
            raise InputError("expected `hosts:` to be a list", Location(self.profile_path, field="hosts"))
        for index in reversed([i for i, entry in enumerate(entries) if replaces(entry)]):
            del entries[index]
        clashes = sorted({e.get("name") for e in entries if isinstance(e, dict)} & {h["name"] for h in hosts})
        if clashes:
            raise InputError(f"region.yaml already has a host named {', '.join(clashes)}",
                             Location(self.profile_path, field="hosts"), hint="rename that host")
        for host in hosts:
            entry = CommentedMap(host)
            entry.fa.set_flow_style()
            entries.append(entry)
        entries.fa.set_block_style() if entries else entries.fa.set_flow_style()
        out = io.StringIO()
        yaml.dump(document, out)
        write_atomic(self.profile_path, out.getvalue())

    def write_artifacts_store(self, store: str) -> None:
        """Set `artifacts: {store: STORE}` in region.yaml, keeping every comment and the rest of the file as is."""
        from ruamel.yaml.comments import CommentedMap

        yaml = _round_trip_yaml()
        document = yaml.load(read_text(self.profile_path))
        if not isinstance(document, dict):
            raise InputError("expected a mapping", Location(self.profile_path))
        section = document.get("artifacts")
        if isinstance(section, dict):
            section["store"] = store
        else:
            section = CommentedMap(store=store)
            section.fa.set_flow_style()
            known = "artifacts" in document
            document["artifacts"] = section
            if not known:
                document.yaml_set_comment_before_after_key(
                    "artifacts", before="\nRelease archives of the apps: a folder (relative to this file) or an "
                                        "http(s):// base URL with index.json.\nSee `regionkit artifacts list`.")
        out = io.StringIO()
        yaml.dump(document, out)
        write_atomic(self.profile_path, out.getvalue())


def chosen_apps(profile: Profile) -> Choice:
    return {app_id: profile.choice(app_id).auto for app_id in profile.apps}


def _round_trip_yaml():
    """ruamel.yaml set up to match the project template's layout, so an edit only changes what it edits."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(
        type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null"))
    return yaml
