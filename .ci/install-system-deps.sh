#!/usr/bin/env bash
# Debian packages the system tests (npm run test:system) run against:
#   caddy tor restic cryptsetup-bin shellcheck wireguard-tools haproxy openssl age iproute2 systemd tinyproxy
#   prometheus (promtool: checks and unit-tests the alert rules, checks the collector's metrics) and
#   prometheus-node-exporter (the exporter the host baseline configures, run by that test on a loopback port)
# and those the live host test (test/live/host) builds and boots its Debian VM with:
#   qemu-system-x86 qemu-utils (the VM, its overlays), mmdebstrap (its root file systems, from
#   Debian's archive), e2fsprogs (mkfs.ext4 -d: the disk image without a loop mount), tar
# and the Docker provider stand-in's system test (test/system/docker-provider.test.ts) needs a local daemon:
#   docker.io (dockerd, started by the test itself), busybox-static (its test image), docker-registry
# Idempotent: safe to run again; apt-get skips what is already installed.
set -euo pipefail

packages=(caddy tor restic cryptsetup-bin shellcheck wireguard-tools haproxy openssl age iproute2 systemd tinyproxy)
packages+=(prometheus prometheus-node-exporter)
packages+=(qemu-system-x86 qemu-utils mmdebstrap e2fsprogs tar)
packages+=(docker.io busybox-static docker-registry)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
