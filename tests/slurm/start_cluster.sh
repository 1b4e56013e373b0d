#!/usr/bin/env bash
# A one-machine Slurm cluster for the tests (and for rehearsing a cluster launch on a laptop), without
# systemd or cgroups: munged as the munge user, then slurmctld and slurmd as root, with
# proctrack/linuxproc, task/none, no accounting, and config, spool, state and logs under DIR.
# Usage: tests/slurm/start_cluster.sh [DIR]   (default /tmp/studio-slurm); then export SLURM_CONF=DIR/slurm.conf.
# Exit 3 (with the reason on stdout) when slurm-wlm and munge are missing and cannot be installed.
set -euo pipefail
DIR="${1:-/tmp/studio-slurm}"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  if [ "$(id -u)" != 0 ]; then echo "slurm-wlm and munge are not installed and this is not root"; exit 3; fi
  (apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1; }) \
    || { echo "apt-get could not install slurm-wlm and munge"; exit 3; }
fi
if [ "$(id -u)" != 0 ]; then echo "starting slurmd needs root"; exit 3; fi
mkdir -p "$DIR/spool" "$DIR/state" "$DIR/log"
export SLURM_CONF="$DIR/slurm.conf"

# munge: one key, its socket directory, the daemon as its own user.
if [ ! -s /etc/munge/munge.key ]; then
  (command -v mungekey >/dev/null && mungekey --create --force) || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge && chown munge:munge /run/munge /var/lib/munge /var/log/munge
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- munged --force
  for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
fi

if [ -f "$DIR/slurmd.pid" ] && kill -0 "$(cat "$DIR/slurmd.pid")" 2>/dev/null && sinfo -h >/dev/null 2>&1; then
  echo "ready (already running)"; exit 0
fi
HOST="$(hostname -s)"
NODE="$(slurmd -C | head -n 1 | sed 's/ UpTime=.*//')"
cat > "$SLURM_CONF" <<CONF
ClusterName=studio
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
$NODE State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -c
slurmd -c
for _ in $(seq 100); do
  if sinfo -h -o %T 2>/dev/null | grep -q idle; then echo "ready"; exit 0; fi
  sleep 0.2
done
echo "Slurm did not come up; see $DIR/log"; exit 1
