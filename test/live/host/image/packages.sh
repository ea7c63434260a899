# Package lists of the live host's golden image (sourced by build-rootfs.sh).
# Part of the image's cache key: any change here rebuilds the image.

# trixie, not bookworm: the stacks need Docker >= 26 (volume subpaths).
SUITE=trixie

# The VM: a Debian Docker host like the production one, plus the stand-ins the
# live test needs (a local registry, a local ACME CA, the Storage Box sftp
# servers). docker-cli: the Docker provider talks `docker system dial-stdio`
# over SSH and the host scripts call `docker`.
HOST_PACKAGES=(
    linux-image-amd64 systemd-sysv udev dbus kmod iproute2 util-linux procps
    openssh-server openssh-sftp-server
    cryptsetup e2fsprogs age ca-certificates curl openssl
    docker.io docker-cli iptables wireguard-tools
    docker-registry pebble
    unattended-upgrades
    prometheus-node-exporter
)

# One root file system shared by every container image role. tinyproxy-bin,
# not tinyproxy: the latter drags in logrotate, cron and systemd.
CONTAINER_PACKAGES=(
    caddy haproxy tor restic openssh-client tinyproxy-bin
    wireguard-tools iproute2 iptables procps
    python3 ca-certificates
)
