# Sourced by scripts/demo, scripts/test and scripts/bench: installs and starts the MongoDB
# wire-protocol servers the tests use on a loopback port: PyPI's nx-27017 (SQLite-backed, in memory)
# and PyPI's mongoeco (closer to MongoDB; it needs Python >= 3.13, so it runs in a Debian trixie
# chroot built with debootstrap). Both are installed once and cached.

NX_VERSION=0.8.1
NX_VENV=${NX_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/livechat-rooms/nx-27017-$NX_VERSION}

# Creates the virtualenv once and reuses it afterwards.
ensure_nx() {
  if [ -x "$NX_VENV/bin/nx-27017" ]; then
    return
  fi
  echo "installing nx-27017 $NX_VERSION into $NX_VENV (once; under a minute, pip prints nothing meanwhile)" >&2
  mkdir -p "$(dirname "$NX_VENV")"
  if ! python3 -m venv "$NX_VENV" 2>/dev/null; then
    # Debian's own python3 keeps venv in a separate package.
    rm -rf "$NX_VENV"
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    fi
    python3 -m venv "$NX_VENV"
  fi
  "$NX_VENV/bin/pip" install --quiet --disable-pip-version-check "nx-27017==$NX_VERSION"
}

MONGOECO_VERSION=4.11.0
MONGOECO_ROOT=${MONGOECO_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/livechat-rooms/mongoeco-$MONGOECO_VERSION-trixie}

# Builds the trixie chroot with mongoeco once (about a minute; needs root for debootstrap and
# chroot) and reuses it afterwards.
ensure_mongoeco() {
  if [ -x "$MONGOECO_ROOT/opt/mongoeco/bin/python" ] && [ -f "$MONGOECO_ROOT/.complete" ]; then
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "mongoeco runs in a Debian trixie chroot, which needs root to build and enter" >&2
    return 1
  fi
  echo "installing mongoeco $MONGOECO_VERSION into a trixie chroot at $MONGOECO_ROOT (once; about 2 minutes: debootstrap, then pip)" >&2
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  # The mirror this machine's apt uses.
  local mirror
  mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  if [ -z "$mirror" ]; then
    echo "no Debian mirror found in apt's sources (/etc/apt/sources.list.d/*.sources or /etc/apt/sources.list)" >&2
    return 1
  fi
  rm -rf "$MONGOECO_ROOT"
  mkdir -p "$MONGOECO_ROOT"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates trixie \
    "$MONGOECO_ROOT" "$mirror" >"$MONGOECO_ROOT.debootstrap.log" 2>&1 ||
    { tail -20 "$MONGOECO_ROOT.debootstrap.log" >&2; return 1; }
  # pip inside reaches the registry as this machine does: its CA bundle and name servers.
  cp /etc/ssl/certs/ca-certificates.crt "$MONGOECO_ROOT/etc/ssl/certs/ca-certificates.crt"
  cp /etc/resolv.conf "$MONGOECO_ROOT/etc/resolv.conf"
  chroot "$MONGOECO_ROOT" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root /bin/sh -c \
    "python3 -m venv /opt/mongoeco && /opt/mongoeco/bin/pip install --quiet --disable-pip-version-check 'mongoeco[wire]==$MONGOECO_VERSION'"
  rm -rf "$MONGOECO_ROOT/var/cache/apt/archives/"*.deb
  touch "$MONGOECO_ROOT/.complete"
}

# start_mongoeco PORT [USER:PASSWORD]: as start_nx, for mongoeco (scripts/mongoeco-server.py, in
# memory); with USER:PASSWORD every connection must authenticate as that user.
start_mongoeco() {
  local port=$1 credentials=${2:-}
  local log=${TMPDIR:-/tmp}/livechat-rooms-mongoeco-$port.log
  mkdir -p "$MONGOECO_ROOT/opt/livechat"
  cp scripts/mongoeco-server.py "$MONGOECO_ROOT/opt/livechat/"
  chroot "$MONGOECO_ROOT" /opt/mongoeco/bin/python /opt/livechat/mongoeco-server.py "$port" ${credentials:+"$credentials"} >"$log" 2>&1 &
  MONGOECO_PID=$!
  if ! wait_for_port "$port" "$MONGOECO_PID" mongoeco; then
    cat "$log" >&2
    return 1
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_nx PORT [DATA_DIR]: starts the server in the background (databases in memory, or in files
# under DATA_DIR), stops it when the calling shell exits, and returns once it accepts connections.
start_nx() {
  local port=$1 data=${2:-memory}
  local log=${TMPDIR:-/tmp}/livechat-rooms-nx-$port.log
  "$NX_VENV/bin/nx-27017" --data-dir "$data" --host 127.0.0.1 -p "$port" \
    --log-file "$log" --pid-file "${TMPDIR:-/tmp}/livechat-rooms-nx-$port.pid" >"$log.out" 2>&1 &
  NX_PID=$!
  trap 'kill "$NX_PID" 2>/dev/null || true' EXIT
  if ! wait_for_port "$port" "$NX_PID" nx-27017; then
    cat "$log.out" >&2
    return 1
  fi
}

# wait_for_port PORT PID NAME: returns once 127.0.0.1:PORT accepts connections; fails if process
# PID exits first or 30 s pass.
wait_for_port() {
  local port=$1 pid=$2 name=$3
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited before listening on port $port" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$name did not accept connections on port $port within 30 s" >&2
  return 1
}
