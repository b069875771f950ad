"""Where regionkit puts things on its servers: every server path regionkit writes, reads or checks, once.

The playbooks read the same table from `playbooks/group_vars/all/serverpaths.yml` (`regionkit_paths.<name>`,
name = the constant's name in lower case); `tests/test_serverpaths.py` checks that the two agree and that no
other file of the kit writes a server path out. Paths of one app are patterns: `{id}` is the app's id,
`{version}` its version, `{php}` the PHP version; fill them with `str.format` here, with
`replace('{id}', app.id)` in the playbooks and templates. All values are absolute POSIX paths (str).
"""

from __future__ import annotations

# Web hosts: releases, artifacts and unit sites of the apps; a field bundle's Debian packages.
ROOT = "/srv/regionkit"
APPS = "/srv/regionkit/apps"
APP_ROOT = "/srv/regionkit/apps/{id}"  # releases/<version>, current, shared/app.env, branding
ARTIFACTS = "/srv/regionkit/artifacts"
APP_ARTIFACT = "/srv/regionkit/artifacts/{id}-{version}.tar.gz"
BUILD_BUNDLE = "/srv/regionkit/artifacts/regionkit-build.tar"  # the rendered build, packed once per deploy
DEBS = "/srv/regionkit/debs"  # a field bundle's packages as a local apt repository
DEBS_ARCHIVE = "/srv/regionkit/debs.tar"
APT_SOURCE = "/etc/apt/sources.list.d/regionkit-bundle.list"

# Settings, secrets and what is deployed.
ETC = "/etc/regionkit"
SECRETS = "/etc/regionkit/secrets"
APP_SECRETS = "/etc/regionkit/secrets/{id}"  # one file per secret: app_key, db_password
DEPLOYED = "/etc/regionkit/deployed"
DEPLOYED_RECORD = "/etc/regionkit/deployed/{id}.json"  # read by `regionkit status`

# Logs.
LOG = "/var/log/regionkit"
APP_LOG = "/var/log/regionkit/{id}.log"  # a service app's output on hosts without systemd
NGINX_ACCESS_LOG = "/var/log/nginx/regionkit-{id}.access.log"
NGINX_ERROR_LOG = "/var/log/nginx/regionkit-{id}.error.log"

# Database hosts: where MariaDB and PostgreSQL keep their data (preflight checks its free space).
DATA = "/var"

# nginx: regionkit's http settings, the stock site it removes, one server block and TLS snippet per app.
NGINX_SETTINGS = "/etc/nginx/conf.d/00-regionkit.conf"
NGINX_STOCK_SITE = "/etc/nginx/sites-enabled/default"
NGINX_SITE = "/etc/nginx/conf.d/regionkit-{id}.conf"
NGINX_TLS = "/etc/nginx/regionkit-tls"  # <id>.conf: the listen 443 lines once a certificate exists

# PHP-FPM: one pool and socket per PHP app.
PHP_POOL = "/etc/php/{php}/fpm/pool.d/regionkit-{id}.conf"
PHP_SOCKET = "/run/php/regionkit-{id}.sock"

# Service apps: a systemd unit (and regionkit's drop-in folder), or an init script and pidfile without systemd.
SYSTEMD_UNIT = "/etc/systemd/system/regionkit-{id}.service"
SYSTEMD_DROPIN = "/etc/systemd/system/regionkit-{id}.service.d"
INIT_SCRIPT = "/etc/init.d/regionkit-{id}"
PIDFILE = "/run/regionkit-{id}.pid"

# MariaDB: regionkit's server settings.
MARIADB_SETTINGS = "/etc/mysql/mariadb.conf.d/60-regionkit.cnf"

# name -> path or pattern: the `regionkit_paths` of the playbooks (every constant above, in lower case).
LAYOUT: dict[str, str] = {name.lower(): value for name, value in dict(globals()).items()
                          if name.isupper() and isinstance(value, str)}
