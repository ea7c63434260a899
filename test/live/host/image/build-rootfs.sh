#!/usr/bin/env bash
# The root-only half of the live host's golden image build (build.ts runs it
# as root, in a fresh work directory WORK, and does the rest in Node):
#
#   build-rootfs.sh trees WORK   WORK/host: the VM's root file system, configured;
#                                WORK/ctr: the containers' shared root file system;
#                                WORK/out: the keys and certificates the live test needs.
#   build-rootfs.sh disk WORK    after build.ts pushed the images into the VM's
#                                registry storage: WORK/out/disk.img (raw ext4),
#                                WORK/out/vmlinuz, WORK/out/initrd.img.
#
# Everything comes from Debian's archive (the only thing these machines may
# reach); nothing runs on the build machine but mmdebstrap, chroot and mkfs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=packages.sh
source "$here/packages.sh"
mirror=${REDOUBT_LIVE_MIRROR:-http://deb.debian.org/debian}
disk_size=${REDOUBT_LIVE_DISK_SIZE:-8G}

phase=${1:?usage: build-rootfs.sh trees|disk WORK}
work=$(realpath "${2:?usage: build-rootfs.sh trees|disk WORK}")
host=$work/host
ctr=$work/ctr
out=$work/out
logs=$work/logs
mkdir -p "$out" "$logs"

# The live test's addresses (also in index.ts).
GUEST_ADDRESS=10.0.2.15
declare -A SITE_ADDRESS=([helsinki]=198.51.100.11 [falkenstein]=198.51.100.12)

step() { echo "[$(date +%H:%M:%S)] $*"; }

joined() { local IFS=,; echo "$*"; }

# Neither the VM nor the containers need documentation or translations, and
# not unpacking them makes dpkg faster.
NODOCS=(
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    --dpkgopt='path-include=/usr/share/locale/locale.alias'
)

bootstrap() {
    # Two mmdebstraps at once: they mostly wait for downloads and dpkg's fsyncs.
    # The initramfs settings go in before the kernel package generates it.
    step "mmdebstrap $SUITE: VM and container root file systems"
    mmdebstrap --mode=root --variant=minbase "${NODOCS[@]}" \
        --include="$(joined "${HOST_PACKAGES[@]}")" \
        --essential-hook="mkdir -p \"\$1/etc/initramfs-tools/conf.d\" \"\$1/usr/share/initramfs-tools/modules.d\" && cp '$here/host/etc/initramfs-tools/conf.d/redoubt-live.conf' \"\$1/etc/initramfs-tools/conf.d/\" && printf '%s\n' virtio_pci virtio_blk ext4 >\"\$1/usr/share/initramfs-tools/modules.d/redoubt-live\"" \
        "$SUITE" "$host" "$mirror" >"$logs/mmdebstrap-host.log" 2>&1 &
    local host_pid=$!
    mmdebstrap --mode=root --variant=minbase "${NODOCS[@]}" \
        --include="$(joined "${CONTAINER_PACKAGES[@]}")" \
        "$SUITE" "$ctr" "$mirror" >"$logs/mmdebstrap-ctr.log" 2>&1 &
    local ctr_pid=$!
    local failed=0
    wait "$host_pid" || { failed=1; echo "mmdebstrap of the VM failed:" >&2; tail -n 30 "$logs/mmdebstrap-host.log" >&2; }
    wait "$ctr_pid" || { failed=1; echo "mmdebstrap of the containers failed:" >&2; tail -n 30 "$logs/mmdebstrap-ctr.log" >&2; }
    [ "$failed" -eq 0 ]
    step "mmdebstrap done"
}

in_host() { chroot "$host" "$@"; }

configure_host() {
    step "configuring the VM"
    cp -a "$here/host/." "$host/"
    rm -f "$host/etc/ssh/redoubt-sites/sshd_config.template"
    chmod 0755 "$host"/usr/local/sbin/*
    echo redoubt-live >"$host/etc/hostname"
    cat >"$host/etc/hosts" <<EOF
127.0.0.1	localhost
127.0.1.1	redoubt-live
::1	localhost ip6-localhost ip6-loopback
# The live test adds "<domain> $GUEST_ADDRESS" lines below (pebble validates through them).
EOF
    echo '/dev/vda / ext4 defaults 0 1' >"$host/etc/fstab"
    # No resolver: nothing outside the VM may be asked anything.
    echo '# no DNS in the live host VM (qemu user networking with restrict=on)' >"$host/etc/resolv.conf"
    # Persistent journal (Storage=auto keeps it on disk when this exists).
    mkdir -p "$host/var/log/journal"

    # Root's key for the test; only the public half goes into the image.
    install -d -m 0700 "$host/root/.ssh"
    in_host ssh-keygen -q -t ed25519 -N '' -C redoubt-live-test -f /root/.ssh/redoubt-live-test
    mv "$host/root/.ssh/redoubt-live-test" "$out/id_ed25519"
    mv "$host/root/.ssh/redoubt-live-test.pub" "$out/id_ed25519.pub"
    install -m 0600 "$out/id_ed25519.pub" "$host/root/.ssh/authorized_keys"
    # One host key, ed25519, pinned by the test.
    rm -f "$host"/etc/ssh/ssh_host_*
    in_host ssh-keygen -q -t ed25519 -N '' -C redoubt-live -f /etc/ssh/ssh_host_ed25519_key
    cut -d' ' -f1,2 "$host/etc/ssh/ssh_host_ed25519_key.pub" >"$out/host_ed25519.pub"

    configure_pebble
    configure_sites

    # The build machine's systemctl, offline on the tree (in a chroot it warns that /proc is missing).
    systemctl --root="$host" enable --quiet systemd-networkd ssh containerd docker docker-registry pebble \
        redoubt-site@helsinki redoubt-site@falkenstein redoubt-internet.socket
    # Under emulation every unit costs seconds: periodic maintenance would
    # compete for the CPU during a test, and these do nothing for a headless
    # Docker host reached over SSH (no display, no EFI, no FUSE, no logins on
    # a console, no logind sessions: libpam-systemd is not installed). apt's
    # timers stay: the host baseline requires them (security updates), as on
    # a production host; offline, a run fails fast.
    systemctl --root="$host" mask --quiet dpkg-db-backup.timer \
        e2scrub_all.timer e2scrub_reap.service fstrim.timer \
        modprobe@drm.service modprobe@efi_pstore.service modprobe@configfs.service modprobe@fuse.service \
        getty@tty1.service serial-getty@ttyS0.service systemd-logind.service \
        systemd-networkd-persistent-storage.service
}

configure_pebble() {
    # Pebble's own HTTPS listener needs a certificate for 10.0.2.15 that the
    # live stack can trust: a small CA made here, exported as acme-ca.pem. Its
    # key is thrown away once the one certificate is signed.
    in_host useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pebble
    local tls=/etc/pebble/tls
    install -d -m 0755 "$host$tls"
    cat >"$host/tmp/pebble-cert.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:$GUEST_ADDRESS,IP:127.0.0.1,DNS:localhost,DNS:pebble
EOF
    in_host openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=Redoubt live test ACME directory CA" \
        -addext 'basicConstraints=critical,CA:TRUE,pathlen:0' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
        -keyout /tmp/pebble-ca.key -out "$tls/ca.pem" 2>/dev/null
    in_host openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=$GUEST_ADDRESS" -keyout "$tls/key.pem" -out /tmp/pebble.csr 2>/dev/null
    in_host openssl x509 -req -in /tmp/pebble.csr -CA "$tls/ca.pem" -CAkey /tmp/pebble-ca.key \
        -CAcreateserial -days 3650 -extfile /tmp/pebble-cert.ext -out "$tls/cert.pem" 2>/dev/null
    rm -f "$host"/tmp/pebble-ca.key "$host"/tmp/pebble.csr "$host"/tmp/pebble-cert.ext "$host$tls"/ca.srl "$host"/tmp/*.srl
    in_host chown root:pebble "$tls/key.pem"
    chmod 0640 "$host$tls/key.pem"
    chmod 0644 "$host$tls/cert.pem" "$host$tls/ca.pem"
    cp "$host$tls/ca.pem" "$out/acme-ca.pem"
}

configure_sites() {
    local site
    install -d -m 0755 "$host/srv/redoubt-sites"
    for site in helsinki falkenstein; do
        local dir=/etc/ssh/redoubt-sites/$site
        in_host groupadd --system "site-$site"
        install -d -m 0755 "$host$dir" "$host$dir/authorized_keys" "$host/srv/redoubt-sites/$site"
        in_host ssh-keygen -q -t ed25519 -N '' -C "storage-box-$site" -f "$dir/ssh_host_ed25519_key"
        sed -e "s/@SITE@/$site/g" -e "s/@ADDRESS@/${SITE_ADDRESS[$site]}/g" \
            "$here/host/etc/ssh/redoubt-sites/sshd_config.template" >"$host$dir/sshd_config"
        cut -d' ' -f1,2 "$host$dir/ssh_host_ed25519_key.pub" >"$out/site-$site.pub"
    done
}

configure_containers() {
    step "configuring the container root file system"
    install -m 0755 "$here/container/tuwunel.py" "$ctr/usr/local/bin/tuwunel"
    install -m 0755 "$here/container/docker-entrypoint.sh" "$ctr/usr/local/bin/docker-entrypoint.sh"
    # The stand-in's key list, parsed from Tuwunel's example config now, not at start-up.
    install -d -m 0755 "$ctr/usr/local/share/tuwunel-standin"
    cp "$here/container/tuwunel-known-keys.py" "$here/container/tuwunel-example.toml" "$ctr/tmp/"
    chroot "$ctr" python3 /tmp/tuwunel-known-keys.py /tmp/tuwunel-example.toml \
        >"$ctr/usr/local/share/tuwunel-standin/known-keys.json"
    chmod 0644 "$ctr/usr/local/share/tuwunel-standin/known-keys.json"
    # Mount points the images of images.yaml have.
    install -d -m 0755 "$ctr/data" "$ctr/config" "$ctr/srv" "$ctr/usr/local/etc/haproxy" "$ctr/var/lib/tuwunel"
    # Nothing runs perl, apt or iconv modules in a container, and every MB is
    # pulled and unpacked under emulation in each test run.
    rm -rf "$ctr"/usr/bin/perl* "$ctr"/usr/lib/x86_64-linux-gnu/perl* "$ctr"/usr/share/perl* \
        "$ctr"/usr/bin/apt* "$ctr"/usr/lib/apt "$ctr"/usr/lib/x86_64-linux-gnu/libapt-* "$ctr"/var/lib/apt \
        "$ctr"/usr/lib/x86_64-linux-gnu/gconv
    # Docker provides these at run time.
    echo '# provided by Docker at run time' >"$ctr/etc/resolv.conf"
    rm -f "$ctr/etc/hostname"
    find "$ctr/dev" "$ctr/proc" "$ctr/sys" "$ctr/run" "$ctr/tmp" "$ctr/var/tmp" -mindepth 1 -delete
    rm -rf "$ctr"/var/cache/apt/* "$ctr"/var/lib/apt/lists/* "$ctr"/var/log/*.log "$ctr"/var/cache/debconf/*-old
}

make_disk() {
    step "registry storage ownership, kernel, disk image"
    in_host chown -R docker-registry:docker-registry /var/lib/docker-registry
    local kernel initrd
    kernel=$(printf '%s\n' "$host"/boot/vmlinuz-* | sort -V | tail -n 1)
    initrd=$(printf '%s\n' "$host"/boot/initrd.img-* | sort -V | tail -n 1)
    cp "$kernel" "$out/vmlinuz"
    cp "$initrd" "$out/initrd.img"
    rm -rf "$host"/var/cache/apt/* "$host"/var/lib/apt/lists/* "$host"/tmp/*
    # No loop mount: mke2fs copies the tree. Inode tables initialised now, not
    # lazily in the background of every emulated test run.
    rm -f "$out/disk.img"
    mkfs.ext4 -q -L redoubt-live -E lazy_itable_init=0,lazy_journal_init=0 -d "$host" "$out/disk.img" "$disk_size"
    step "disk image done"
}

case $phase in
trees)
    [ "$(id -u)" -eq 0 ] || { echo "build-rootfs.sh must run as root (mmdebstrap, chroot)" >&2; exit 1; }
    bootstrap
    configure_host
    configure_containers
    ;;
disk)
    make_disk
    ;;
*)
    echo "usage: build-rootfs.sh trees|disk WORK" >&2
    exit 2
    ;;
esac
