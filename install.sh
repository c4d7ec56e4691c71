#!/usr/bin/env bash
# Install napari-detcal and everything it needs into ./.venv (idempotent).
#   bash install.sh          the library, the napari plugin (PyQt6), BaSiCPy and dask.distributed
#   bash install.sh --test   the same plus the test tools, Xvfb (system packages, as root), the
#                            peer tools the parity tests compare against, and fabio (EDF); where
#                            this project sits beside a ../shared/peers folder holding TomoPy's
#                            source (its development workplace), TomoPy is built too
#                            (TomoPy is not on PyPI; without it its parity tests skip)
#   bash install.sh --bench  the library plus the peer tools the benchmarks compare against
set -euo pipefail
cd "$(dirname "$0")"
extras="napari,basic,cluster"
want_xvfb=0
for arg in "$@"; do
  case "$arg" in
    --test) extras="$extras,test,bench,edf"; want_xvfb=1 ;;
    --bench) extras="$extras,bench" ;;
    *) echo "install.sh: unknown option $arg (expected --test or --bench)" >&2; exit 2 ;;
  esac
done

# Qt needs these X/xcb libraries even on a machine with a display; the tests need Xvfb.
packages="libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0
  libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0 libgl1 libegl1 libfontconfig1 libdbus-1-3"
[ "$want_xvfb" = 1 ] && packages="$packages xvfb"
missing=""
for p in $packages; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "install.sh: please install these system packages:$missing" >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
pip install -q --upgrade pip >/dev/null
# CPU torch first, so nothing later pulls a multi-GB CUDA build.
pip install -q "torch==2.13.0"
pip install -q -e ".[$extras]"
# basicpy 2.0.0 declares scipy<1.13 and an unpinned torch; it runs fine on current scipy.
pip install -q --no-deps "basicpy==2.0.0"
tomopy_builder=../shared/peers/install-tomopy
if [ "$want_xvfb" = 1 ] && [ -x "$tomopy_builder" ] && ! .venv/bin/python -c "import tomopy" 2>/dev/null; then
  "$tomopy_builder" .venv >/dev/null || echo "install.sh: TomoPy could not be built; its parity tests will skip" >&2
fi
echo "napari-detcal installed in $(pwd)/.venv"
