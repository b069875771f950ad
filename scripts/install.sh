#!/usr/bin/env bash
# Installs regionkit and what it needs into ./.venv (Debian 12, run as root or with sudo rights).
# Idempotent: rerunning it only updates what changed.
#  - Python's venv support, git, and Chromium (headless checks of the HTML reports), if missing;
#  - for local sandbox servers: openssh-server and iproute2 on this machine, and the packages the playbooks
#    install on servers (nginx, MariaDB, PHP 8.2) downloaded into the apt cache only: sandbox servers have no
#    network and install them from there, exactly as an offline site would.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

SERVER_PACKAGES="nginx mariadb-server php8.2-fpm php8.2-cli php8.2-mysql php8.2-pgsql postgresql"
need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
command -v git >/dev/null || need_apt+=(git)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v curl >/dev/null || need_apt+=(curl)
$SUDO apt-get update -qq
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing system packages: ${need_apt[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then   # headless checks of the audit report (with its recommended fonts)
  echo "installing chromium"
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq -d --no-install-recommends $SERVER_PACKAGES >/dev/null
echo "server packages are in the apt cache: $SERVER_PACKAGES"

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"regionkit needs Python 3.11 or newer, found {sys.version.split()[0]}")
PY

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
echo "regionkit installed: $(.venv/bin/regionkit --version) in $(pwd)/.venv"
