#!/usr/bin/env bash
# Makes the local base image for docker/Dockerfile when no registry can be reached: a Debian
# bookworm minbase root filesystem (debootstrap) plus .nvmrc's Node.js and package.json's npm, the
# same runtime the Makefile uses (scripts/node-runtime.sh, from the npm registry), imported into
# podman.
#
#   docker/make-base.sh            prints the image name (builds it only when missing)
#
# The root filesystem tarball is cached under $PINPIPE_CACHE_DIR/images, so a second machine
# state (e.g. after `podman system reset`) only pays for the import.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
read -r NODE_VERSION NPM_VERSION < <("$root/scripts/node-runtime.sh" --versions)
SUITE=bookworm
MIRROR=${PINPIPE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE_DIR=${PINPIPE_CACHE_DIR:-$HOME/.cache/pinpipe}/images
# Debian packages beyond minbase: Node.js 26's binary links libatomic.
PACKAGES=libatomic1
# Bump when the root filesystem's contents change, so a cached base of the old contents is not reused.
REVISION=2
IMAGE=localhost/pinpipe-base:$SUITE-node$NODE_VERSION-r$REVISION
TARBALL=$CACHE_DIR/pinpipe-base-$SUITE-node$NODE_VERSION-npm$NPM_VERSION-r$REVISION.tar

say() { printf 'make-base: %s\n' "$*" >&2; }

if podman image exists "$IMAGE"; then
  echo "$IMAGE"
  exit 0
fi

mkdir -p "$CACHE_DIR"
if [[ ! -s $TARBALL ]]; then
  command -v debootstrap >/dev/null || { say "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
  work=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  rootfs=$work/rootfs
  say "debootstrap --variant=minbase $SUITE (about 30 s)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }

  say "Node.js $NODE_VERSION and npm $NPM_VERSION (scripts/node-runtime.sh)"
  runtime=$(dirname "$("$root/scripts/node-runtime.sh" --own)")
  install -m 0755 "$runtime/bin/node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$runtime/lib/node_modules/npm" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" /usr/local/bin/node --version >/dev/null ||
    { say "Node.js $NODE_VERSION does not start in the $SUITE root filesystem (a shared library missing from PACKAGES?)"; exit 1; }

  # What a container never needs: package lists, caches, docs, man pages, other locales.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
  tar --numeric-owner -C "$rootfs" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
fi

say "podman import $TARBALL"
podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["node"]' \
  "$TARBALL" "$IMAGE" >/dev/null
echo "$IMAGE"
