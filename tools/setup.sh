#!/usr/bin/env bash
# Prepares a Debian 12 machine to build and run callmonitor: installs the
# Debian packages it needs (only the missing ones), makes .venv from Debian's
# /usr/bin/python3 (never the pyenv python3 first on PATH) and installs the
# package into it, editable. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(cmake g++ make pkg-config pybind11-dev python3-dev python3-numpy python3-venv
          python3-setuptools python3-pip python3-pytest liblmdb-dev libcereal-dev xtensor-dev
          libgtest-dev libbenchmark-dev python3-mpi4py openmpi-bin libopenmpi-dev
          lmdb-utils clang libclang-rt-14-dev  # clang + libFuzzer/sanitizer runtimes: tools/fuzz.sh
          libzstd-dev libxxhash-dev            # payload compression and content hashes (format v2)
          python3-rich python3-pandas python3-mypy python3-pytest-xdist python3-pint
          valgrind)                            # callgrind instruction counts: bench/callgrind.sh

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=/usr/bin/python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv from $PY"
  "$PY" -m venv --system-site-packages .venv
fi
echo "setup: building and installing callmonitor into .venv"
mkdir -p build
if ! .venv/bin/python -m pip install --no-build-isolation --no-deps -e . > build/pip-install.log 2>&1; then
  cat build/pip-install.log >&2
  echo "setup: building callmonitor failed (log above, also in build/pip-install.log)" >&2
  exit 1
fi
.venv/bin/python -c "import callmonitor" || { echo "setup: callmonitor does not import" >&2; exit 1; }
