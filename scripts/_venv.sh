# Sourced by the scripts: make .venv with a pip new enough for dependency groups.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "slipway needs Python 3.10 or newer; $PYTHON is $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.x" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv || {
    echo "could not create .venv; on Debian/Ubuntu install the venv module: apt install python3-venv" >&2
    exit 2
  }
fi
.venv/bin/python -m pip install -q --upgrade "pip>=25.1"
