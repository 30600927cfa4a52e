#!/usr/bin/env bash
# Private Docker engine for the engine test suites. MOAT_TEST_ADDRESS_POOL (default 10.201.0.0/16) lets two
# engines run side by side on one machine without overlapping bridge subnets.
#
#   engine.sh start <dir>   start (or reuse) a dockerd whose socket, data, exec root and pidfile all live in <dir>,
#                           make sure the test image exists, and print DOCKER_HOST=unix://<dir>/docker.sock last
#   engine.sh stop <dir>    remove its containers, stop it, unmount and delete <dir>
#
# It never touches /var/run/docker.sock or a system daemon: every docker call names the private socket with -H,
# and containerd state goes to its own namespace. Nothing can be pulled on the test machines, so the image is
# built with `docker import` from busybox-static.
set -euo pipefail

IMAGE=moat-test-busybox:latest
MARKER=.moat-test-engine
START_TIMEOUT=60
STOP_TIMEOUT=15
OR_SKIP='or set MOAT_TEST_ENGINE=skip to skip the engine suites loudly'

die() {
  echo "engine.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: engine.sh start|stop <dir>" >&2
  exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
[ -n "$2" ] || usage
# Absolute path without requiring it to exist yet (stop may get a dir that is already gone).
case $2 in
  /*) D=${2%/} ;;
  *) D=$PWD/${2%/} ;;
esac
[ "$D" != "" ] && [ "$D" != "/" ] || die "refusing to use / as the engine dir"

SOCK=$D/docker.sock
HOST=unix://$SOCK
PIDFILE=$D/docker.pid

dk() {
  # DOCKER_CONTEXT would otherwise compete with -H; the private socket is the only target.
  env -u DOCKER_CONTEXT -u DOCKER_HOST timeout 60 docker -H "$HOST" "$@"
}

engine_answers() {
  [ -S "$SOCK" ] && env -u DOCKER_CONTEXT -u DOCKER_HOST timeout 5 docker -H "$HOST" version >/dev/null 2>&1
}

daemon_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # Only our dockerd counts: a recycled PID must not be signalled.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--pidfile $PIDFILE" || return 1
  echo "$pid"
}

# PIDs of processes whose command line names this engine's exec or data root (its managed containerd and shims).
# Matching those subdirs, not $D itself, keeps this script and whoever called it out of the list.
pids_using_dir() {
  local f pid args
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
    # The process may be gone by now: the redirection's own error is silenced too.
    args=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue
    case $args in
      *"$D/exec/"* | *"$D/data/"*) echo "$pid" ;;
    esac
  done
}

# After a dockerd crash its containers keep running without it. Their IDs are the dirs under data/containers and
# name their cgroups, so the processes (and the emptied cgroups) found by ID belong to this engine alone.
kill_orphan_containers() {
  local ids id f pid
  ids=$(ls "$D/data/containers" 2>/dev/null | grep -E '^[0-9a-f]{64}$' || true)
  [ -n "$ids" ] || return 0
  for id in $ids; do
    for f in /proc/[0-9]*/cgroup; do
      if grep -qF -- "$id" "$f" 2>/dev/null; then
        pid=${f#/proc/}
        # PID 1 of a container ignores TERM, so KILL it.
        kill -KILL "${pid%/cgroup}" 2>/dev/null || true
      fi
    done
  done
  sleep 0.5
  for id in $ids; do
    find /sys/fs/cgroup -maxdepth 4 -type d -name "*$id*" 2>/dev/null | sort -r | xargs -r rmdir 2>/dev/null || true
  done
}

mounts_under_dir() {
  # Field 5 of mountinfo is the mount point; deepest first so parents unmount last.
  awk -v d="$D/" 'index($5, d) == 1 { print length($5) " " $5 }' /proc/self/mountinfo | sort -rn | cut -d' ' -f2-
}

static_busybox() {
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sleep || return 1
  # A dynamic busybox would not run inside a rootfs that holds nothing else.
  ! ldd /bin/busybox >/dev/null 2>&1
}

ensure_tools() {
  if command -v dockerd >/dev/null && command -v docker >/dev/null && static_busybox; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static)
    # Only refresh the package lists when the install cannot find the packages without it.
    if ! "${apt[@]}" >&2; then
      apt-get update -qq >&2 && "${apt[@]}" >&2 || true
    fi
  fi
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null || ! static_busybox; then
    die "no usable dockerd/docker/static /bin/busybox, and apt-get install docker.io busybox-static did not" \
      "provide them: install them, $OR_SKIP"
  fi
}

start_daemon() {
  if engine_answers; then
    return 0
  fi
  local pid=''
  if ! daemon_pid >/dev/null; then
    rm -f "$PIDFILE" "$SOCK"
    setsid nohup dockerd \
      -H "$HOST" \
      --data-root "$D/data" \
      --exec-root "$D/exec" \
      --pidfile "$PIDFILE" \
      --iptables=false --ip-masq=false --bridge=none \
      --default-address-pool "base=${MOAT_TEST_ADDRESS_POOL:-10.201.0.0/16},size=24" \
      --containerd-namespace moat-test --containerd-plugins-namespace moat-test-plugins \
      </dev/null >>"$D/dockerd.log" 2>&1 9>&- &
    pid=$!
  fi
  # Otherwise an earlier call already launched it: just wait for it.
  local waited=0
  while ! engine_answers; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$D/dockerd.log" >&2 || true
      die "dockerd exited while starting (log above, full log in $D/dockerd.log)"
    fi
    if [ $waited -ge $START_TIMEOUT ]; then
      tail -n 20 "$D/dockerd.log" >&2 || true
      die "dockerd did not answer on $HOST within ${START_TIMEOUT}s (log above, full log in $D/dockerd.log)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

build_image() {
  if dk image inspect "$IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  local root
  root=$(mktemp -d "$D/rootfs.XXXXXX")
  mkdir "$root/bin" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local tool
  for tool in sh sleep true cat echo; do
    ln -s busybox "$root/bin/$tool"
  done
  tar -C "$root" -c . | dk import --change 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null ||
    die "docker import of $IMAGE failed"
  rm -rf "$root"
}

do_start() {
  [ "$(id -u)" = 0 ] ||
    die "a private dockerd needs root: run the tests as root (engine.sh then apt-get installs docker.io" \
      "busybox-static if missing), $OR_SKIP"
  ensure_tools
  [ ${#SOCK} -lt 108 ] || die "engine dir too long for a unix socket path (${#SOCK} chars): $SOCK"
  mkdir -p "$D"
  touch "$D/$MARKER"
  # Two concurrent starts on one dir must not launch two daemons.
  exec 9>"$D/engine.lock"
  flock 9
  start_daemon
  build_image
  exec 9>&-
  echo "DOCKER_HOST=$HOST"
}

do_stop() {
  [ -d "$D" ] || return 0
  # Never delete a directory this script did not set up; an empty one (start failed early) just goes.
  if [ ! -f "$D/$MARKER" ]; then
    rmdir "$D" 2>/dev/null || die "$D has no $MARKER marker, not removing it"
    return 0
  fi

  local nets=''
  if engine_answers; then
    local ids
    ids=$(dk ps -aq 2>/dev/null || true)
    # Containers go first so their containerd shims exit instead of lingering after the daemon.
    [ -z "$ids" ] || dk rm -f $ids >/dev/null 2>&1 || true
    # Each bridge network is a host interface br-<id12> that outlives the daemon unless removed through it.
    nets=$(dk network ls -q --no-trunc --filter driver=bridge 2>/dev/null || true)
    dk network prune -f >/dev/null 2>&1 || true
  fi

  local pid waited
  if pid=$(daemon_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    waited=0
    while kill -0 "$pid" 2>/dev/null && [ $waited -lt $((STOP_TIMEOUT * 5)) ]; do
      sleep 0.2
      waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi

  # A killed dockerd can leave its managed containerd and shims behind; they all name this dir.
  local left
  left=$(pids_using_dir)
  if [ -n "$left" ]; then
    kill -TERM $left 2>/dev/null || true
    sleep 1
    left=$(pids_using_dir)
    [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
  fi

  kill_orphan_containers

  local net
  for net in $nets; do
    if ip link show "br-${net:0:12}" >/dev/null 2>&1; then
      ip link delete "br-${net:0:12}" 2>/dev/null || true
    fi
  done

  local m
  while read -r m; do
    [ -n "$m" ] || continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(mounts_under_dir)

  rm -rf --one-file-system "$D" 2>/dev/null || true
  if [ -e "$D" ]; then
    echo "engine.sh: could not remove all of $D" >&2
  fi
  return 0
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  *) usage ;;
esac
