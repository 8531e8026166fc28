#!/usr/bin/env bash
# Sets up vPlus on a Debian/Ubuntu machine: the system packages it needs (only
# those missing), the npm packages, and the build. Safe to run again.
#   bash build/setup.sh          # to run the product
#   bash build/setup.sh --test   # plus what the test suite needs (Chromium, sshd, …)
#   bash build/setup.sh --bench  # plus restic, borg and virtnbdbackup, to benchmark against
#   bash build/setup.sh --package  # plus what `npm run package` needs (dpkg-dev, makeself)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup]\033[0m %s\n' "$*" >&2; exit 1; }

mode=run
case "${1:-}" in
  --test) mode=test ;;
  --bench) mode=bench ;;
  --package) mode=package ;;
  "") ;;
  *) die "unknown option $1 (use --test, --bench or --package)" ;;
esac

# --- Node.js ---------------------------------------------------------------
command -v node >/dev/null || die "Node.js 20.19+ is required (with npm): install it first, e.g. from https://nodejs.org or your distribution"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js $(node -v) is too old: vPlus needs 20.19 or newer"

# --- System packages -------------------------------------------------------
# mariadb-server: the managed catalog. python3/make/g++: native npm modules.
packages=(mariadb-server python3 make g++ ca-certificates openssl)
if [ "$mode" = bench ]; then
  packages+=(restic borgbackup virtnbdbackup)
fi
# S3-compatible destinations (issue 19): tests and `npm run bench -- s3` start a throwaway
# single-node Ceph cluster with the RADOS Gateway (tests/support/ceph-rgw.ts).
ceph=(ceph-mon ceph-osd ceph-base ceph-common radosgw)
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  packages+=("${ceph[@]}")
fi
# npm run package: dpkg-deb and dpkg-shlibdeps (the .deb), makeself (the .run).
packaging=(dpkg-dev makeself)
if [ "$mode" = package ]; then
  packages+=("${packaging[@]}")
fi
if [ "$mode" = test ]; then
  # chromium: UI end-to-end tests (driven by playwright-core, no browser download).
  packages+=(chromium openssh-server iproute2 libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils libnbd-bin)
  # strace: the durability test watches a backup's fdatasync/syncfs/rename order.
  packages+=(strace)
  # Mount (file-level restore): test disks (sfdisk, mkfs.*, LVM metadata without activation),
  # FUSE filesystem drivers, and an iSCSI target with a user-space initiator.
  packages+=(fdisk lvm2 xfsprogs btrfs-progs ntfs-3g dosfstools mtools exfatprogs fusefat tgt libiscsi-bin qemu-block-extra)
  # Packaging tests: build the packages, then install them on a clean Debian system
  # (debootstrap) booted in a container (systemd-nspawn), entered with nsenter (util-linux).
  packages+=("${packaging[@]}" debootstrap debian-archive-keyring systemd-container util-linux)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing system packages (${missing[*]}) and no apt-get to install them"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing system packages (${missing[*]}); run as root or install sudo"
    sudo="sudo"
  fi
  say "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's udev rule gives /dev/kvm to group kvm (0660). Where no udev runs (containers,
# CI machines) it can stay root-only; libvirt then re-probes QEMU's capabilities on every
# call (seconds each, over a minute for `virsh define` on a loaded machine).
if [ "$mode" = test ] && [ -c /dev/kvm ] && getent group kvm >/dev/null 2>&1 && [ "$(stat -c %G:%a /dev/kvm)" != "kvm:660" ]; then
  as_root=""
  [ "$(id -u)" -ne 0 ] && as_root="sudo"
  if $as_root chgrp kvm /dev/kvm && $as_root chmod 0660 /dev/kvm; then
    say "gave /dev/kvm to group kvm (0660), as Debian's udev rule does"
  else
    say "could not give /dev/kvm to group kvm; the KVM tests may be slow"
  fi
fi

# --- npm packages ----------------------------------------------------------
# Electron's binary is fetched separately below (it is not always downloadable);
# native modules build against the system's Node headers.
export ELECTRON_SKIP_BINARY_DOWNLOAD=1
export npm_config_nodedir=/usr
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.vplus-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-fund --no-audit
  echo "$lock_hash" > "$stamp"
else
  say "npm packages are up to date"
fi
# better-sqlite3 (M365 metadata; pinned to 12.x, 13 crashes on Node 20) installs a prebuilt
# binary when one can be downloaded; otherwise, or when that binary does not load in this
# Node, build it from source (python3, make and g++ above; headers from nodedir=/usr).
if ! node -e 'new (require("better-sqlite3"))(":memory:").close()' >/dev/null 2>&1; then
  say "building better-sqlite3 from source"
  npm rebuild better-sqlite3 --build-from-source --no-fund --no-audit
  node -e 'new (require("better-sqlite3"))(":memory:").close()' || die "better-sqlite3 does not load after building it from source (see above)"
fi

# The desktop app needs Electron's binary; without it `npm start` runs the
# server headless. Try once, but never fail setup over it.
if [ "$mode" = run ] && [ -z "${VPLUS_SKIP_ELECTRON:-}" ]; then
  if ! node -e 'require("fs").statSync(require("electron"))' >/dev/null 2>&1; then
    say "fetching Electron's binary for the desktop app (skip with VPLUS_SKIP_ELECTRON=1)"
    if ! ELECTRON_SKIP_BINARY_DOWNLOAD= timeout 180 node node_modules/electron/install.js >/dev/null 2>&1; then
      say "Electron's binary could not be downloaded here; npm start will run the server headless"
    fi
  fi
fi

# --- Build -----------------------------------------------------------------
say "building"
npm run build --silent
say "done"
