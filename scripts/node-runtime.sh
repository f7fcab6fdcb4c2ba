#!/usr/bin/env bash
# Prints the directory that holds the Node.js and npm pinpipe runs on: exactly the version in
# .nvmrc, with the npm of package.json's "packageManager". The Makefile puts it first on PATH, so
# every target (and .ci/run, the demo, the benchmarks, the images' base) uses one runtime.
#
#   scripts/node-runtime.sh          the machine's own node when it is that version, else the cached one
#   scripts/node-runtime.sh --own    always the cached one (the image base copies it)
#   scripts/node-runtime.sh --versions   prints "<node version> <npm version>" and installs nothing
#
# When the machine's node is another version, the release is taken from the npm registry, which
# carries every Node.js build as the package node-linux-<arch>, with whatever npm the machine has
# (any version can `npm pack`), and unpacked once into $PINPIPE_CACHE_DIR/node/<version>.
# PINPIPE_NODE_VERSION overrides .nvmrc (the benchmarks compare runtimes with it).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'node-runtime: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

own=false versions_only=false
[[ ${1:-} == --own ]] && own=true
[[ ${1:-} == --versions ]] && versions_only=true

version=${PINPIPE_NODE_VERSION:-$(tr -d ' \t\r\nv' <"$root/.nvmrc")}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die ".nvmrc (or PINPIPE_NODE_VERSION) must hold one exact version such as 24.1.0, not \"$version\""
npm_version=$(sed -n 's/^ *"packageManager": *"npm@\([0-9][0-9.]*\)".*/\1/p' "$root/package.json")
[[ -n $npm_version ]] || die "package.json has no \"packageManager\": \"npm@<version>\""
if $versions_only; then
  echo "$version $npm_version"
  exit 0
fi

if ! $own && command -v node >/dev/null && [[ $(node --version) == "v$version" ]]; then
  dirname "$(command -v node)"
  exit 0
fi

case $(uname -m) in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "no Node.js package for $(uname -m); install Node.js $version yourself" ;;
esac

cache=${PINPIPE_CACHE_DIR:-$HOME/.cache/pinpipe}/node
dir=$cache/$version-npm$npm_version/bin
if [[ -x $dir/node && -e $dir/npm ]]; then
  echo "$dir"
  exit 0
fi

command -v npm >/dev/null ||
  die "Node.js $version is needed and the machine has $(node --version 2>/dev/null || echo no Node.js); fetching it takes an npm of any version (apt-get install npm), or install Node.js $version"

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 600 9 || die "another install into $cache has held its lock for 10 minutes"
if [[ -x $dir/node && -e $dir/npm ]]; then
  echo "$dir"
  exit 0
fi

say "installing Node.js $version and npm $npm_version into $cache (first time only)"
work=$(mktemp -d "$cache/.install.XXXXXX")
trap 'rm -rf "$work"' EXIT
# npm pack checks each tarball against the registry's integrity digest.
(cd "$work" && npm pack --silent --loglevel=error "node-linux-$arch@$version" "npm@$npm_version" >/dev/null) ||
  die "npm could not fetch node-linux-$arch@$version and npm@$npm_version from its registry"
prefix=$work/prefix
mkdir -p "$prefix/bin" "$prefix/lib/node_modules/npm"
tar -xzf "$work/node-linux-$arch-$version.tgz" -C "$work"
install -m 0755 "$work/package/bin/node" "$prefix/bin/node"
tar -xzf "$work/npm-$npm_version.tgz" -C "$prefix/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$prefix/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$prefix/bin/npx"
[[ $("$prefix/bin/node" --version) == "v$version" ]] || die "the unpacked node does not say v$version"
PATH=$prefix/bin:$PATH "$prefix/bin/npm" --version >/dev/null || die "the unpacked npm $npm_version does not run on Node.js $version"
rm -rf "$(dirname "$dir")"
mv "$prefix" "$(dirname "$dir")"
echo "$dir"
