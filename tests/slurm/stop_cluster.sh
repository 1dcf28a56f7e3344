#!/usr/bin/env bash
# Stop the cluster of start_cluster.sh (same PIXELNOISE_SLURM_DIR): cancel its jobs, then
# stop the daemons whose pid files start_cluster.sh left in $PIXELNOISE_SLURM_DIR/pid
# (slurmd, slurmctld, and munged only if it started it), and put back a slurm.conf it
# replaced. Daemons it did not start are left alone. Safe to run twice.
set -u

DIR=${PIXELNOISE_SLURM_DIR:-/tmp/pixelnoise-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# Written by pixelnoise tests/slurm/start_cluster.sh; state, logs and pid files in $DIR"

say() { echo "stop_cluster.sh: $*" >&2; }

ours=0
[ -s "$DIR/pid/slurmctld.pid" ] && [ "$(head -n 1 "$CONF" 2>/dev/null)" = "$MARK" ] && ours=1

# Jobs first, so that no job process outlives the cluster (slurmstepd keeps running a job
# after slurmd is gone). Only when $CONF is ours: otherwise these commands would reach
# someone else's cluster.
if [ "$ours" = 1 ] && command -v squeue >/dev/null; then
  jobs=$(timeout 10 squeue -h -t pending,running,completing -o %A 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    say "cancelling jobs $jobs"
    # shellcheck disable=SC2086
    timeout 10 scancel $jobs 2>/dev/null || true
    for _ in $(seq 60); do
      [ -z "$(timeout 10 squeue -h -t pending,running,completing -o %A 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
fi

stop() {  # stop <program> <pid file>: TERM, up to 10 s, then KILL; only if the pid is <program>
  local program=$1 file=$2 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$program" ]; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$program ($pid) ignored TERM; killing it"
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$file"
}
stop slurmd "$DIR/pid/slurmd.pid"
stop slurmctld "$DIR/pid/slurmctld.pid"
stop munged "$DIR/pid/munged.pid"

if [ -e "$DIR/slurm.conf.orig" ]; then
  mv -f "$DIR/slurm.conf.orig" "$CONF"
elif [ "$(head -n 1 "$CONF" 2>/dev/null)" = "$MARK" ]; then
  rm -f "$CONF"
fi
exit 0
