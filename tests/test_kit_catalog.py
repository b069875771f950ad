"""The catalog that ships with the kit: size, groups of the 2016 list, every publicly named app."""

import pytest

from regionkit.catalog.model import InstallableApp, Kind, load_catalog


@pytest.fixture(scope="module")
def kit():
    return load_catalog()


def test_at_least_tangerangs_2018_count_with_its_audience_split(kit):
    assert len(kit) >= 174
    audiences = [a.audience.value for a in kit.apps.values()]
    # 2018: 111 public-service and 63 government-management apps
    assert audiences.count("public") == 111 and audiences.count("government") == 63


def test_every_group_and_subgroup_of_the_2016_list_is_present_and_used(kit):
    subgroups = {(g.id, s.id) for g in kit.groups for s in g.subgroups}
    for expected in [("e-government", "website-opd"), ("e-government", "manajemen-pemerintahan"),
                     ("e-government", "manajemen-layanan-publik"), ("e-government", "penyampaian-aspirasi"),
                     ("e-government", "android")]:
        assert expected in subgroups
    for group in ("e-kesehatan", "e-pendidikan", "e-logistik", "e-lelang"):
        assert any(g == group for g, _ in subgroups)
    used = {(a.group, a.subgroup) for a in kit.apps.values()}
    assert subgroups <= used, f"empty subgroups: {sorted(subgroups - used)}"


NAMED = ["e-office", "portal-egov", "sigap", "e-kinerja", "open-data", "server-hosting", "laksa", "tangerang-live",
         "e-absensi", "e-audit", "e-sabakota", "e-transport", "perizinan-online", "pencaker",
         "pindah-sekolah-online", "sikda", "simasn", "e-puskesmas", "sim-rsud", "simpatirs", "ppdb-online",
         "ppdb-online-android", "dapodik", "profil-sekolah", "sipbd", "spse", "sirup", "spse-android"]
NATIONAL = ["spse", "sirup", "dapodik", "srikandi", "sp4n-lapor", "sipd", "siak", "satusehat"]


@pytest.mark.parametrize("app_id", NAMED + NATIONAL + ["website-opd"])
def test_publicly_named_apps_are_present(kit, app_id):
    assert app_id in kit.apps


@pytest.mark.parametrize("app_id", NATIONAL)
def test_national_platforms_are_integrations_only(kit, app_id):
    app = kit.apps[app_id]
    assert app.kind == Kind.NATIONAL
    assert app.integration.settings and app.integration.url.startswith("https://")
    assert not hasattr(app, "runtime")


def test_kinds_are_all_used_and_installables_carry_a_recipe(kit):
    kinds = {a.kind for a in kit.apps.values()}
    assert kinds == set(Kind)
    assert kit.apps["website-opd"].kind == Kind.UNIT_SITE
    assert sum(1 for a in kit.apps.values() if a.kind == Kind.ANDROID) >= 6
    for app in kit.apps.values():
        if isinstance(app, InstallableApp):
            assert app.health.startswith("/") and app.ports and app.resources.memory_mb > 0


def test_pandeglang_2021_package_resolves(kit):
    chosen = ["e-office", "portal-egov", "sigap", "e-kinerja", "open-data", "server-hosting"]
    order = kit.closure(chosen)
    assert set(chosen) <= set(order)
    for app_id in order:
        for dep in kit.apps[app_id].depends_on:
            assert order.index(dep) < order.index(app_id)
