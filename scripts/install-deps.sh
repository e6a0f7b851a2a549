#!/usr/bin/env bash
# install-deps.sh — installs, from Debian's packages, everything mailcluster
# needs to build, test and run its demo.  Run as root on Debian 12.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
	build-essential pkg-config clang libclang-rt-14-dev \
	postgresql-15 postgresql-server-dev-15 postgresql-contrib \
	libsodium-dev libgmime-3.0-dev \
	libipc-run-perl perl procps iproute2 sudo
