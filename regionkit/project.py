"""A region project on disk: its folder, its profile, and edits that keep the profile's comments."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

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
