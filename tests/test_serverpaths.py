"""Server paths are defined once on each side, the two sides agree, and no other file writes one out.

Server paths: where regionkit puts things on its servers (regionkit/provision/serverpaths.py). The Python side
is `regionkit.provision.serverpaths.LAYOUT`; the Ansible side is `regionkit_paths` in
playbooks/group_vars/all/serverpaths.yml, which every playbook reads (site.yml, remove.yml, preflight.yml live
next to group_vars/).
"""

import re
from pathlib import Path

import yaml

from regionkit.provision import serverpaths

REPO = Path(__file__).resolve().parent.parent
ANSIBLE_PATHS = REPO / "playbooks" / "group_vars" / "all" / "serverpaths.yml"

# What a server path looks like when written out: regionkit's own folders, and the system folders regionkit
# puts its files in (nginx, PHP-FPM, systemd, init scripts, apt sources, MariaDB settings, sockets, logs).
# Paths of the operating system that regionkit only reads or repairs (/etc/os-release, /etc/localtime,
# PostgreSQL's own cluster folders) are not regionkit's layout and are not looked for.
SERVER_PATH = re.compile(
    r"(?<![\w.$~-])/(?:srv/|etc/regionkit|var/log/regionkit|var/lib/regionkit|run/regionkit|etc/nginx/|etc/php/"
    r"|etc/systemd/system/|etc/init\.d/|etc/apt/sources\.list\.d/|etc/mysql/|run/php/|var/log/nginx/)")

# Files that may write server paths out, and why.
ALLOWED = {
    "regionkit/provision/serverpaths.py": "the table itself (Python side)",
    "playbooks/group_vars/all/serverpaths.yml": "the table itself (Ansible side), compared with the Python side below",
    "regionkit/provision/sandbox.py": "/run/regionkit-sandbox is this machine's state of its sandbox servers, "
                                      "not a server path",
}
SCANNED = ("regionkit", "playbooks", "templates")


def test_the_playbooks_paths_are_the_python_paths():
    ansible = yaml.safe_load(ANSIBLE_PATHS.read_text(encoding="utf-8"))
    assert ansible["regionkit_paths"] == serverpaths.LAYOUT
    assert serverpaths.LAYOUT["app_root"] == serverpaths.APP_ROOT == "/srv/regionkit/apps/{id}"


def test_every_path_of_the_table_is_what_the_scan_looks_for():
    # Guards the scan below: a path the pattern does not recognise could be written out unnoticed.
    unseen = [name for name, path in serverpaths.LAYOUT.items() if name != "data" and not SERVER_PATH.match(path)]
    assert unseen == []


def test_no_other_file_writes_a_server_path_out():
    found = []
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*")):
            relative = path.relative_to(REPO).as_posix()
            # Markdown is documentation for people (it describes the layout); __pycache__ is generated.
            if not path.is_file() or path.suffix == ".md" or "__pycache__" in path.parts or relative in ALLOWED:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # images, fonts
            for number, line in enumerate(text.splitlines(), 1):
                if SERVER_PATH.search(line):
                    found.append(f"{relative}:{number}: {line.strip()}")
    assert found == [], ("server paths belong in regionkit/provision/serverpaths.py and its Ansible twin:\n"
                         + "\n".join(found))


def test_the_scan_finds_a_path_written_out():
    assert SERVER_PATH.search('dest: "/etc/regionkit/deployed/{{ app.id }}.json"')
    assert SERVER_PATH.search("root /srv/regionkit/apps/x/current;")
    assert not SERVER_PATH.search("src: /usr/share/zoneinfo/Asia/Jakarta")
