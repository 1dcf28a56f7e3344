#!/usr/bin/env bash
# A one-node SLURM cluster on localhost, for tests/test_slurm.py and for trying
# profiles/slurm by hand (Debian bookworm, root, no systemd needed):
#
#   apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge
#   PIXELNOISE_SLURM_DIR=/tmp/pn-slurm tests/slurm/start_cluster.sh
#   .venv/bin/snakemake --profile profiles/slurm --profile tests/slurm/profile \
#       --workflow-profile none --cores 2 --configfile tests/configs/tiny.yaml
#   PIXELNOISE_SLURM_DIR=/tmp/pn-slurm tests/slurm/stop_cluster.sh
#
# Starts munged (unless one already answers), slurmctld and slurmd; state, logs and pid files
# go to $PIXELNOISE_SLURM_DIR (default /tmp/pixelnoise-slurm). The node has this machine's
# CPUs and most of its memory, partition `debug`, no GPU and no accounting database (so jobs
# are followed with squeue; see tests/slurm/profile). stop_cluster.sh stops exactly the
# daemons whose pid files this script left in $PIXELNOISE_SLURM_DIR/pid.
#
# Exit status: 0 the node is idle and takes jobs; 2 not root or a program is missing;
# 3 a SLURM controller already answers (someone else's: nothing started, nothing changed);
# 1 anything else (what was started is stopped again, the daemon logs are printed).
set -euo pipefail

DIR=${PIXELNOISE_SLURM_DIR:-/tmp/pixelnoise-slurm}
WAIT_SECONDS=${PIXELNOISE_SLURM_WAIT:-60}
# The path compiled into Debian's SLURM. It must be this one (not $SLURM_CONF): the srun that
# runs each Snakemake job inside its allocation gets a cleaned environment and reads it too.
CONF=/etc/slurm/slurm.conf
MARK="# Written by pixelnoise tests/slurm/start_cluster.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { echo "start_cluster.sh: $*" >&2; }
die() { local code=$1; shift; say "$*"; exit "$code"; }

[ "$(id -u)" = 0 ] || die 2 "must run as root (the daemons run as root and $CONF is written)"
for program in munge munged slurmctld slurmd sinfo scontrol; do
  command -v "$program" >/dev/null ||
    die 2 "$program not found: apt-get install slurmctld slurmd slurm-client munge"
done
if [ -e "$CONF" ] && timeout 10 scontrol ping 2>/dev/null | grep -q "is UP"; then
  die 3 "a SLURM controller already answers 'scontrol ping' ($CONF: $(head -n 1 "$CONF")); not starting another"
fi

mkdir -p "$DIR"/state/ctld "$DIR"/state/d "$DIR"/log "$DIR"/pid
rm -f "$DIR"/pid/*.pid

failed() {
  say "failed; the daemon logs:"
  tail -n 30 "$DIR"/log/*.log >&2 2>/dev/null || true
  PIXELNOISE_SLURM_DIR=$DIR "$HERE/stop_cluster.sh" || true
}
trap 'failed' ERR

wait_for() {  # wait_for <what> <command...>: retry for WAIT_SECONDS
  local what=$1; shift
  for _ in $(seq $((WAIT_SECONDS * 4))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  say "timed out after ${WAIT_SECONDS}s waiting for $what"
  return 1
}

# --- munge: SLURM's authentication ------------------------------------------------------
if munge -n >/dev/null 2>&1; then
  say "munged is already running: using it (it will not be stopped)"
else
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
  runuser -u munge -- munged  # daemonizes, writes /run/munge/munged.pid
  wait_for "munged" sh -c 'munge -n | unmunge'
  cp /run/munge/munged.pid "$DIR/pid/munged.pid"
fi

# --- slurm.conf ---------------------------------------------------------------------------
if [ -e "$CONF" ] && ! head -n 1 "$CONF" | grep -qF "$MARK"; then
  cp -p "$CONF" "$DIR/slurm.conf.orig"  # stop_cluster.sh puts it back
  say "saved the existing $CONF as $DIR/slurm.conf.orig"
fi
cpus=$(nproc)
memory_mb=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
mkdir -p "$(dirname "$CONF")"
cat >"$CONF" <<EOF
$MARK; state, logs and pid files in $DIR
ClusterName=pixelnoise
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state/ctld
SlurmdSpoolDir=$DIR/state/d
SlurmctldPidFile=$DIR/pid/slurmctld.pid
SlurmdPidFile=$DIR/pid/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
MailProg=/bin/true
MpiDefault=none
# No cgroups: a sandboxed kernel has none to offer, and the test needs no isolation.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
# Finished jobs stay visible to squeue for 5 minutes: Snakemake's SLURM plugin learns that a
# job ended from squeue here (no accounting database) and needs MinJobAge >= 3 x its first
# status delay; a lower value makes it switch to sacct, which fails without slurmdbd.
MinJobAge=300
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

# --- the controller and the node ----------------------------------------------------------
slurmctld  # daemonizes
wait_for "slurmctld's pid file" test -s "$DIR/pid/slurmctld.pid"
wait_for "slurmctld to answer" sh -c 'scontrol ping | grep -q "is UP"'
slurmd -N localhost  # -N: the node name does not depend on `hostname`
wait_for "slurmd's pid file" test -s "$DIR/pid/slurmd.pid"
wait_for "the node to become idle" sh -c '[ "$(sinfo -h -n localhost -o %T)" = idle ]'
trap - ERR
sinfo -N -o "%N %P %T %c %m"
