#!/usr/bin/env bash
# Debian packages the system tests (npm run test:system) run against:
#   caddy tor restic cryptsetup-bin shellcheck wireguard-tools haproxy openssl age iproute2 systemd tinyproxy
# Idempotent: safe to run again; apt-get skips what is already installed.
set -euo pipefail

packages=(caddy tor restic cryptsetup-bin shellcheck wireguard-tools haproxy openssl age iproute2 systemd tinyproxy)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
