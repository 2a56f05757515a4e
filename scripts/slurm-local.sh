#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine (Debian/Ubuntu slurm-wlm + munge), for trying launcher=slurm
# and for the SLURM test suite (tests/test_slurm_cluster.py). Needs root; works without systemd or cgroups.
#
#   scripts/slurm-local.sh start     install what is missing (apt), write the config, start the daemons,
#                                    wait until the node takes jobs (prints one summary line)
#   scripts/slurm-local.sh status    one line; exit 0 when the node takes jobs
#   scripts/slurm-local.sh stop      cancel this cluster's jobs, stop the daemons it started
#
# Environment:
#   SLURM_LOCAL_ACCT=1        also MariaDB + slurmdbd, so `sacct` answers (without it, sacct says
#                             "Slurm accounting storage is disabled"; pada's launcher copes with both)
#   SLURM_LOCAL_CPUS=N        advertise N CPUs / M MB (more than the hardware has is fine: jobs share the
#   SLURM_LOCAL_MEM_MB=M      real cores), so a job asking for the production 8 CPUs / 64 GB schedules
#   SLURM_LOCAL_GPUS=N        a fake gres gpu:N (N <= 4) so --gpus-per-node submits; jobs see no real GPU
#   SLURM_LOCAL_DIR           state, logs and pid files (default /var/spool/pada-slurm)
#
# Obstacles met on the way, and the answer to each:
#   - no systemd: each daemon forks itself; their pid files (under $DIR/run) are how `stop` finds them.
#   - no usable cgroups in a container: proctrack/linuxproc and task/none instead of the cgroup plugins.
#   - the hostname may not resolve: both daemons talk over 127.0.0.1 (SlurmctldHost=<name>(127.0.0.1)).
#   - with no DefMemPerCPU a job without --mem takes the whole node, and cells run one at a time.
#   - a requeued job may only start again after the credential expires (default 120 s): cred_expire=10.
#   - KillWait (default 30 s) is how long a cancelled or requeued job gets between SIGTERM and SIGKILL.
#   - PID 1 in a container reaps late: a zombie daemon is not "alive".
set -euo pipefail
DIR=${SLURM_LOCAL_DIR:-/var/spool/pada-slurm}
ACCT=${SLURM_LOCAL_ACCT:-0}
CONF=/etc/slurm/slurm.conf # the compiled-in default: sbatch, sinfo and submitit find it without SLURM_CONF
NODE=$(hostname -s)
PARTITION=debug
say() { echo "slurm-local: $*" >&2; }

running() { # <name>: its pid file names a live, non-zombie process
  local pid
  pid=$(cat "$DIR/run/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && [ "$(awk '{print $3}' "/proc/$pid/stat")" != Z ]
}
retry() { # retry <tries> <command...>: every 0.25 s until it succeeds
  local n=$1
  shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  return 1
}
node_state() { timeout 10 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1 || true; }
takes_jobs() { case $(node_state) in idle* | mixed* | allocated* | completing*) return 0 ;; esac; return 1; }

install_packages() {
  local want="slurmctld slurmd slurm-client munge" missing=()
  [ "$ACCT" = 1 ] && want="$want slurmdbd mariadb-server"
  for pkg in $want; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} = 0 ] && return 0
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

node_line() { # the NodeName line: what `slurmd -C` sees, or the advertised sizes
  local probe cpus mem
  probe=$(slurmd -C | head -1)
  if [ -z "${SLURM_LOCAL_CPUS:-}${SLURM_LOCAL_MEM_MB:-}" ]; then
    echo "${probe%% UpTime=*}"
    return
  fi
  cpus=${SLURM_LOCAL_CPUS:-$(grep -oP ' CPUs=\K[0-9]+' <<<"$probe")}
  mem=${SLURM_LOCAL_MEM_MB:-$(grep -oP ' RealMemory=\K[0-9]+' <<<"$probe")}
  echo "NodeName=$NODE CPUs=$cpus RealMemory=$mem"
}

write_config() {
  mkdir -p "$DIR"/{run,log,state,spool} /etc/slurm
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    head -c 1024 /dev/urandom >/etc/munge/munge.key
  fi
  chown -R munge:munge /etc/munge
  chmod 700 /etc/munge
  chmod 400 /etc/munge/munge.key
  local node cpus mem gres="" extra=""
  node=$(node_line)
  cpus=$(grep -oP ' CPUs=\K[0-9]+' <<<"$node")
  mem=$(grep -oP ' RealMemory=\K[0-9]+' <<<"$node")
  [ -n "${SLURM_LOCAL_CPUS:-}${SLURM_LOCAL_MEM_MB:-}" ] && extra="SlurmdParameters=config_overrides"
  if [ "${SLURM_LOCAL_GPUS:-0}" -gt 0 ]; then # slurmd counts a GPU only with a device file: lend it harmless ones
    local files
    files=$(printf '%s\n' /dev/null /dev/zero /dev/full /dev/urandom | head -n "$SLURM_LOCAL_GPUS" | paste -sd,)
    echo "NodeName=$NODE Name=gpu File=$files" >/etc/slurm/gres.conf
    gres=" Gres=gpu:$SLURM_LOCAL_GPUS"
    extra="$extra"$'\nGresTypes=gpu'
  fi
  local accounting="AccountingStorageType=accounting_storage/none"
  [ "$ACCT" = 1 ] && accounting=$'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost'
  cat >"$CONF" <<EOF
# Written by pada's scripts/slurm-local.sh: a one-node test cluster on $NODE.
ClusterName=pada-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$accounting
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((mem / cpus))
KillWait=10
ReturnToService=2
$extra
$node$gres NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  [ "$ACCT" = 1 ] || return 0
  cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  chmod 600 /etc/slurm/slurmdbd.conf
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi # one already answers
  install -d -o munge -g munge /run/munge /var/log/munge /var/lib/munge
  rm -f /run/munge/munged.pid
  runuser -u munge -- munged
  retry 40 test -s /run/munge/munged.pid && cp /run/munge/munged.pid "$DIR/run/munged.pid"
}

start_accounting() {
  if ! mariadb -e 'select 1' >/dev/null 2>&1; then
    install -d -o mysql -g mysql /run/mysqld "$DIR/mysql"
    # It runs as user mysql: its pid and log files go in a folder that user owns.
    setsid mariadbd --user=mysql --bind-address=127.0.0.1 --pid-file="$DIR/mysql/mariadbd.pid" \
      --log-error="$DIR/mysql/mariadb.log" </dev/null >/dev/null 2>&1 &
    retry 120 mariadb -e 'select 1' || { say "mariadbd did not start: see $DIR/mysql/mariadb.log"; exit 1; }
    cp "$DIR/mysql/mariadbd.pid" "$DIR/run/mariadbd.pid"
  fi
  mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
  running slurmdbd || slurmdbd
  retry 120 bash -c '</dev/tcp/127.0.0.1/6819' || { say "slurmdbd did not start: see $DIR/log/slurmdbd.log"; exit 1; }
}

start() {
  [ "$(id -u)" = 0 ] || { say "needs root (it installs packages and starts daemons)"; exit 1; }
  local t0=$SECONDS
  install_packages
  if running slurmctld && running slurmd; then
    say "already running"
    if [ "$ACCT" = 1 ] && grep -q accounting_storage/none "$CONF"; then
      say "running without accounting: stop, then start again with SLURM_LOCAL_ACCT=1"
    fi
  else
    write_config
    start_munge
    [ "$ACCT" = 1 ] && start_accounting
    running slurmctld || slurmctld -i # -i: ignore state files an earlier, different config left
    running slurmd || slurmd
  fi
  for _ in $(seq 120); do
    takes_jobs && break
    case $(node_state) in down* | drain* | inval*) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;; esac
    sleep 0.5
  done
  if ! takes_jobs; then
    say "node $NODE is '$(node_state)' after 60 s; the daemons' logs:"
    tail -n 20 "$DIR"/log/slurm*.log >&2 || true
    exit 1
  fi
  echo "slurm-local: up in $((SECONDS - t0)) s: node $NODE $(node_state), partition $PARTITION," \
    "accounting $(grep -q slurmdbd "$CONF" && echo on || echo off), logs $DIR/log"
}

stop() {
  if running slurmctld && [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    say "cancelling $(squeue -h -o %i | wc -l) job(s)"
    scancel --partition="$PARTITION" || true
    for _ in $(seq 60); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  local name pid
  for name in slurmd slurmctld slurmdbd mariadbd munged; do # the reverse of the start order
    if running "$name"; then
      pid=$(cat "$DIR/run/$name.pid")
      kill "$pid"
      for _ in $(seq 80); do running "$name" || break; sleep 0.25; done
      running "$name" && kill -9 "$pid"
      say "stopped $name ($pid)"
    fi
    rm -f "$DIR/run/$name.pid"
  done
}

status() {
  local name line=""
  for name in munged mariadbd slurmdbd slurmctld slurmd; do
    [ -e "$DIR/run/$name.pid" ] || continue
    if running "$name"; then line="$line $name=$(cat "$DIR/run/$name.pid")"; else line="$line $name=dead"; fi
  done
  echo "slurm-local:${line:- no daemons started by this script} node $NODE $(node_state || true)"
  takes_jobs
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
*)
  echo "usage: $0 start|status|stop" >&2
  exit 2
  ;;
esac
