#!/usr/bin/env bash
# A real single-node SLURM (munge + slurmctld + slurmd, two fake GPUs) for CI, without systemd.
# usage: .ci/slurm.sh up | down      (needs root; Debian 12 slurm-wlm)
set -euo pipefail

node=$(hostname -s)

install_packages() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            munge slurmctld slurmd slurm-client >/dev/null
    fi
}

start_munge() {
    [ -f /etc/munge/munge.key ] || mungekey --create
    chown munge:munge /etc/munge/munge.key
    chmod 600 /etc/munge/munge.key
    install -d -o munge -g munge -m 755 /run/munge
    pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
    munge -n | unmunge >/dev/null
}

write_config() {
    local cpus mem
    cpus=$(nproc)
    mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))
    for i in 0 1; do [ -e /dev/fakegpu$i ] || mknod -m 666 /dev/fakegpu$i c 1 3; done
    install -d /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
    chown slurm:slurm /var/lib/slurm/slurmctld /var/log/slurm
    cat > /etc/slurm/slurm.conf <<EOF
ClusterName=ci
SlurmctldHost=$node
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
ReturnToService=2
MinJobAge=600
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
GresTypes=gpu
NodeName=$node CPUs=$cpus RealMemory=$mem Gres=gpu:fake:2 State=UNKNOWN
PartitionName=cpu Nodes=$node Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$node MaxTime=INFINITE State=UP
EOF
    cat > /etc/slurm/gres.conf <<EOF
AutoDetect=off
NodeName=$node Name=gpu Type=fake File=/dev/fakegpu[0-1]
EOF
}

up() {
    grep -qw "$node" /etc/hosts || echo "127.0.0.1 $node" >> /etc/hosts
    install_packages
    start_munge
    write_config
    [ -f /run/slurmctld.pid ] && down
    /usr/sbin/slurmctld -c -i
    /usr/sbin/slurmd
    for _ in $(seq 60); do
        state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
        case "$state" in idle|mix|alloc) break ;; esac
        sleep 0.5
    done
    scontrol update nodename="$node" state=resume 2>/dev/null || true
    sinfo
}

down() {
    for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
        if [ -f "$pidfile" ]; then
            kill "$(cat "$pidfile")" 2>/dev/null || true
            rm -f "$pidfile"
        fi
    done
}

"${1:?usage: $0 up|down}"
