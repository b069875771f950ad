#!/usr/bin/env bash
# The sample rollout: Kabupaten Pandeglang with the apps it took in 2021, rendered and deployed onto two local
# sandbox servers (network namespaces on this machine, no traffic leaves it), then health-checked.
# Run as root on Debian 12: bash scripts/sample-rollout.sh [PROJECT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$(pwd)/.venv/bin:$PATH"

project=${1:-/root/regionkit-sample/pandeglang}
if [ ! -f "$project/region.yaml" ]; then
  mkdir -p "$(dirname "$project")"
  regionkit init "$project" --region 36.01 --no-input --head-name "Irna Narulita"
  regionkit -C "$project" apps add --preset pandeglang-2021 website-opd
fi
cd "$project"
regionkit sandbox down >/dev/null 2>&1 || true
regionkit sandbox up 2
regionkit artifacts build-demo
regionkit validate
regionkit deploy

