#!/bin/sh
# Startup script of vplus-<version>.run (makeself): installs the vPlus package it
# carries with apt, which brings its dependencies from this system's package sources.
set -e

deb=$(ls vplus_*_amd64.deb)
if [ "$(id -u)" -ne 0 ]; then
  echo "vPlus installer: run it as root (sudo sh vplus-*.run); it installs $deb with apt" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "vPlus installer: this system has no apt-get; the vPlus package is for Debian and Ubuntu" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "vPlus installer: refreshing the package lists"
if ! apt-get update -q >/dev/null; then
  echo "vPlus installer: could not refresh the package lists; installing with the ones this system has" >&2
fi
echo "vPlus installer: installing $deb and its dependencies"
apt-get install -y -q "./$deb"
