"""Choosing apps: add with what they need, remove only what nothing else needs, presets."""

from __future__ import annotations

from dataclasses import dataclass, field

from regionkit.catalog import depgraph
from regionkit.catalog.model import Catalog
from regionkit.errors import InputError

Choice = dict[str, bool]  # app id -> chosen only as a dependency ("auto")


@dataclass
class Change:
    """What an add or remove did, for the user to read."""

    added: list[str] = field(default_factory=list)
    added_as_dependency: list[str] = field(default_factory=list)
    already_chosen: list[str] = field(default_factory=list)
    now_explicit: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    removed_with_cascade: list[str] = field(default_factory=list)
    no_longer_needed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.added_as_dependency or self.now_explicit or self.removed
                    or self.removed_with_cascade or self.no_longer_needed)


def wanted(catalog: Catalog, app_ids: list[str], presets: list[str]) -> list[str]:
    """The apps to add: `app_ids`, then the apps of each preset in `presets`, in order, each once. InputError for
    an unknown preset, or when that names no app at all."""
    result = list(app_ids)
    for preset_id in presets:
        result += [a for a in catalog.preset(preset_id).apps if a not in result]
    if not result:
        raise InputError("name the apps to add, or --preset PRESET", hint="see `regionkit catalog list`")
    return result


def add(catalog: Catalog, chosen: Choice, app_ids: list[str]) -> tuple[Choice, Change]:
    """Choose `app_ids` and everything they need; an app added earlier as a dependency becomes explicit."""
    for app_id in app_ids:
        catalog.get(app_id)  # unknown ids fail before anything changes
    result = dict(chosen)
    change = Change()
    for app_id in catalog.closure(app_ids):
        explicit = app_id in app_ids
        if app_id not in result:
            result[app_id] = not explicit
            (change.added if explicit else change.added_as_dependency).append(app_id)
        elif explicit and result[app_id]:
            result[app_id] = False
            change.now_explicit.append(app_id)
        elif explicit:
            change.already_chosen.append(app_id)
    return result, change


def remove(catalog: Catalog, chosen: Choice, app_ids: list[str], cascade: bool = False) -> tuple[Choice, Change]:
    """Remove `app_ids`. Refused while another chosen app needs one, unless `cascade` removes those too.

    Apps that were only added as dependencies and are no longer needed by anything go as well.
    """
    missing = [a for a in app_ids if a not in chosen]
    if missing:
        raise InputError(f"not chosen: {', '.join(missing)}", hint="see `regionkit apps list`")
    graph = _graph(catalog, chosen)
    dependents = depgraph.reverse(graph)
    going = set(app_ids)
    if cascade:
        going = set(depgraph.closure(dependents, app_ids))
    else:
        blocked = {a: sorted(d for d in dependents.get(a, []) if d not in going) for a in app_ids}
        blocked = {a: needed_by for a, needed_by in blocked.items() if needed_by}
        if blocked:
            reasons = "; ".join(f"{a} is needed by {', '.join(n)}" for a, n in blocked.items())
            raise InputError(f"cannot remove: {reasons}",
                             hint="remove those apps too, or pass --cascade to remove everything that needs it")
    result = {a: auto for a, auto in chosen.items() if a not in going}
    change = Change(removed=[a for a in chosen if a in app_ids],
                    removed_with_cascade=[a for a in chosen if a in going and a not in app_ids])
    needed = set(depgraph.closure(_graph(catalog, result), [a for a, auto in result.items() if not auto]))
    change.no_longer_needed = [a for a, auto in result.items() if auto and a not in needed]
    for app_id in change.no_longer_needed:
        del result[app_id]
    return result, change


def _graph(catalog: Catalog, chosen: Choice) -> dict[str, list[str]]:
    """Dependencies among the chosen apps (ids unknown to the catalog have none)."""
    return {a: [d for d in (catalog.apps[a].depends_on if a in catalog.apps else []) if d in chosen]
            for a in chosen}
