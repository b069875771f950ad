"""Adding and removing apps with their dependencies (mini catalog: laksa-android -> laksa -> sso, sp4n-lapor)."""

import pytest
from conftest import MINI_CATALOG
from hypothesis import given, settings
from hypothesis import strategies as st

from regionkit.catalog.model import load_catalog
from regionkit.errors import InputError
from regionkit.project import selection

CATALOG = load_catalog(MINI_CATALOG)


def test_add_brings_dependencies_and_says_so():
    chosen, change = selection.add(CATALOG, {}, ["laksa-android"])
    assert chosen == {"sso": True, "sp4n-lapor": True, "laksa": True, "laksa-android": False}
    assert change.added == ["laksa-android"]
    assert change.added_as_dependency == ["sso", "sp4n-lapor", "laksa"]


def test_adding_a_dependency_explicitly_makes_it_explicit():
    chosen, _ = selection.add(CATALOG, {}, ["laksa"])
    chosen, change = selection.add(CATALOG, chosen, ["sso", "laksa"])
    assert chosen["sso"] is False and change.now_explicit == ["sso"] and change.already_chosen == ["laksa"]
    assert not change.added


def test_unknown_id_changes_nothing():
    with pytest.raises(InputError, match="unknown app 'laksaa'") as err:
        selection.add(CATALOG, {"sso": False}, ["e-office", "laksaa"])
    assert "laksa" in err.value.hint


def test_remove_refused_while_needed():
    chosen, _ = selection.add(CATALOG, {}, ["laksa-android", "e-office"])
    with pytest.raises(InputError) as err:
        selection.remove(CATALOG, chosen, ["laksa"])
    assert "laksa is needed by laksa-android" in err.value.message and "--cascade" in err.value.hint


def test_remove_together_with_what_needs_it_is_fine():
    chosen, _ = selection.add(CATALOG, {}, ["laksa-android"])
    result, change = selection.remove(CATALOG, chosen, ["laksa", "laksa-android"])
    assert result == {}
    assert change.removed == ["laksa", "laksa-android"] and change.no_longer_needed == ["sso", "sp4n-lapor"]


def test_cascade_and_autoremove():
    chosen, _ = selection.add(CATALOG, {}, ["laksa-android", "e-office"])
    result, change = selection.remove(CATALOG, chosen, ["sp4n-lapor"], cascade=True)
    assert change.removed == ["sp4n-lapor"]
    assert change.removed_with_cascade == ["laksa", "laksa-android"]
    assert change.no_longer_needed == []  # sso is still needed by e-office
    assert result == {"sso": True, "e-office": False}


def test_explicit_dependencies_stay_when_their_dependents_go():
    chosen, _ = selection.add(CATALOG, {}, ["sso", "e-office"])
    result, change = selection.remove(CATALOG, chosen, ["e-office"])
    assert result == {"sso": False} and change.no_longer_needed == []


def test_removing_what_is_not_chosen():
    with pytest.raises(InputError, match="not chosen: laksa"):
        selection.remove(CATALOG, {"sso": False}, ["laksa"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(CATALOG.apps)), min_size=1, max_size=4, unique=True),
       st.lists(st.sampled_from(sorted(CATALOG.apps)), min_size=1, max_size=3, unique=True))
def test_any_add_then_cascade_remove_keeps_the_selection_closed(to_add, to_remove):
    chosen, _ = selection.add(CATALOG, {}, to_add)
    assert set(CATALOG.closure(list(chosen))) == set(chosen)
    present = [a for a in to_remove if a in chosen]
    if not present:
        return
    result, _ = selection.remove(CATALOG, chosen, present, cascade=True)
    assert set(CATALOG.closure(list(result))) == set(result)
    assert not set(present) & set(result)
    explicit = [a for a, auto in result.items() if not auto]
    assert set(CATALOG.closure(explicit)) == set(result)  # nothing orphaned is kept
