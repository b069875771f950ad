#!/bin/bash
# PID 1 of one regionkit sandbox host:  sandbox-host.sh NAME HOST_DIR SSHD
# regionkit/provision/sandbox.py starts it inside the host's network namespace and fresh mount, uts, ipc and pid
# namespaces (mount propagation private, so nothing here is seen by the machine).
#   HOST_DIR/seed/   files laid over the host's root: /etc/hostname, hosts, machine-id, ssh host key and
#                    sshd_config, /root/.ssh/authorized_keys
#   HOST_DIR/layer/  mount point of the host's tmpfs: the overlay's upper layer and the new root
# The root is an overlayfs copy of / whose changes live in RAM and vanish with the host.
set -euo pipefail
name=$1 host_dir=$2 sshd=$3
layer=$host_dir/layer
new=$layer/root

hostname "$name"
mount -t tmpfs -o mode=755,size=2g "regionkit-$name" "$layer"
mkdir "$layer/upper" "$layer/work" "$new"
mount -t overlay overlay -o "lowerdir=/,upperdir=$layer/upper,workdir=$layer/work" "$new"
mount --rbind /dev "$new/dev"
[ -d "$new/dev/shm" ] && mount -t tmpfs -o mode=1777 shm "$new/dev/shm"   # not the machine's
mount -t proc proc "$new/proc"                    # this pid namespace's processes
mount -t sysfs sysfs "$new/sys"                   # this network namespace's devices
mount -t tmpfs -o mode=755 run "$new/run"
mount -t tmpfs -o mode=1777 tmp "$new/tmp"
mount -t tmpfs -o mode=700 root-home "$new/root"  # a fresh /root: no dotfiles of the machine's root
cp -a /etc/skel/. "$new/root/"
mkdir -p "$new/run/sshd" "$new/run/lock"
rm -f "$new"/etc/ssh/ssh_host_*
cp -a --remove-destination "$host_dir/seed/." "$new/"

mkdir "$new/oldroot"
cd "$new"
pivot_root . oldroot
cd /
umount -l /oldroot
rmdir /oldroot

printf fleet-init > /proc/1/comm   # Ansible reads its service manager from PID 1's name: not init, not *sh
"$sshd" -E /var/log/sshd.log      # daemonizes; /run/sshd.pid
trap 'kill -TERM -1 2>/dev/null; exit 0' TERM INT
while :; do sleep 3600 & wait $! || true; done   # as PID 1: reap the orphans of daemons
