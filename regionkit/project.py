"""A region project on disk: its folder, its profile, and edits that keep the profile's comments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionkit.errors import InputError, Location
from regionkit.region import PROFILE_NAME, Profile, find_project, load_profile
from regionkit.selection import Choice


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
        """Rewrite the `apps` section of region.yaml, keeping every comment and the rest of the file as is.

        Raises InputError/ValidationFailed (nothing written) as `yamledit.edit_yaml` does."""

        def change(document):
            from ruamel.yaml.comments import CommentedMap

            apps = _section(document, self.profile_path, "apps", dict, "a mapping")
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
            return document

        self._edit(change)

    def write_hosts(self, hosts: list[dict[str, Any]], replaces: Callable[[Any], bool]) -> None:
        """Rewrite the `hosts` section of region.yaml: drop the entries `replaces` picks, append `hosts` (one line
        each), keep the other hosts, every comment and the rest of the file as is."""

        def change(document):
            from ruamel.yaml.comments import CommentedMap, CommentedSeq

            if _section(document, self.profile_path, None, dict, "a mapping").get("hosts") is None:
                document["hosts"] = CommentedSeq()
            entries = _section(document, self.profile_path, "hosts", list, "a list")
            for index in reversed([i for i, entry in enumerate(entries) if replaces(entry)]):
                del entries[index]
            clashes = sorted({e.get("name") for e in entries if isinstance(e, dict)} & {h["name"] for h in hosts})
            if clashes:
                raise InputError(f"region.yaml already has a host named {', '.join(map(str, clashes))}",
                                 Location(self.profile_path, field="hosts"), hint="rename that host")
            for host in hosts:
                entry = CommentedMap(host)
                entry.fa.set_flow_style()
                entries.append(entry)
            entries.fa.set_block_style() if entries else entries.fa.set_flow_style()
            return document

        self._edit(change)

    def write_artifacts_store(self, store: str) -> None:
        """Set `artifacts: {store: STORE}` in region.yaml, keeping every comment and the rest of the file as is."""

        def change(document):
            from ruamel.yaml.comments import CommentedMap

            section = _section(document, self.profile_path, None, dict, "a mapping").get("artifacts")
            if isinstance(section, dict):
                section["store"] = store
                return document
            section = CommentedMap(store=store)
            section.fa.set_flow_style()
            known = "artifacts" in document
            document["artifacts"] = section
            if not known:
                document.yaml_set_comment_before_after_key(
                    "artifacts", before="\nRelease archives of the apps: a folder (relative to this file) or an "
                                        "http(s):// base URL with index.json.\nSee `regionkit artifacts list`.")
            return document

        self._edit(change)

    def _edit(self, change: Callable[[Any], Any]) -> None:
        """One edit of region.yaml: the result must read back as edited and validate, or nothing is written."""
        from regionkit.region import check_profile_document
        from regionkit.yamledit import edit_yaml

        edit_yaml(self.profile_path, change, lambda doc: check_profile_document(doc)[1])


def chosen_apps(profile: Profile) -> Choice:
    return {app_id: profile.choice(app_id).auto for app_id in profile.apps}


def _section(document: Any, path: Path, key: str | None, kind: type, expected: str) -> Any:
    """`document[key]` (or the document itself) when it is of `kind`, else an InputError naming the field."""
    value = document if key is None else (document.get(key) if isinstance(document, dict) else None)
    if not isinstance(value, kind):
        where = f"`{key}:`" if key else "region.yaml"
        raise InputError(f"expected {where} to be {expected}", Location(path, field=key))
    return value
