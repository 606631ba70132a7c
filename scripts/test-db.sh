# Sourced by scripts/demo and scripts/test: installs and starts the MongoDB wire-protocol server the
# tests use (PyPI's nx-27017, SQLite-backed, in memory) on a loopback port.

NX_VERSION=0.8.1
NX_VENV=${NX_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/livechat-rooms/nx-27017-$NX_VERSION}

# Creates the virtualenv once and reuses it afterwards.
ensure_nx() {
  if [ -x "$NX_VENV/bin/nx-27017" ]; then
    return
  fi
  echo "installing nx-27017 $NX_VERSION into $NX_VENV" >&2
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
