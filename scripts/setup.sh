#!/usr/bin/env bash
# Installs what onair needs to build, run its demo and run its tests on a
# Debian machine: system packages through apt-get (only those missing), then
# a Python venv (.venv) with the aws CLI, boto3 and pytest from PyPI.
#   scripts/setup.sh runtime   # build + demo
#   scripts/setup.sh test      # everything the tests need
#   scripts/setup.sh bench     # that, and wrk, nginx-light and perf for bench/origin.py
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-test}

# The FFmpeg -dev packages and libclang are for building ffmpeg-next (crates/live, crates/testsrc): its
# -sys crate runs bindgen (libclang) over Debian's FFmpeg 5.1 headers and links avcodec,
# avformat, avutil, swscale and swresample (avfilter/avdevice are not used).
# libsrt-openssl-dev is for crates/srt-sys, which links Debian's libsrt 1.5 (found with
# pkg-config, declarations written by hand); librist-dev likewise for crates/rist-sys
# (Debian's librist 0.2.7).
runtime_pkgs=(ffmpeg pkg-config build-essential libsrt-openssl-dev librist-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libclang-dev)
# promtool (Debian's prometheus package) checks onair's /metrics exposition;
# rist-tools has ristsender / ristreceiver, the RIST main-profile peers of test_rist.py.
test_pkgs=(ffmpeg srt-tools rist-tools iproute2 python3 python3-venv chromium prometheus)
# bench/origin.py loads onair's origin and nginx serving the same files with wrk;
# perf profiles onair (--perf).
bench_pkgs=(wrk nginx-light linux-perf)
# The browser player (web/) takes hls.js, and its test playwright-core, from the npm
# registry through web/package-lock.json; Node and npm come from Debian when missing.
command -v npm >/dev/null 2>&1 || runtime_pkgs+=(nodejs npm)

want=("${runtime_pkgs[@]}")
case "$what" in
  test) want+=("${test_pkgs[@]}") ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules ]; then
  echo "setup: installing web/ packages with npm ci"
  npm ci --prefix web --no-audit --no-fund
  touch web/node_modules
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not installed; install Rust (https://rustup.rs) or 'apt-get install cargo'" >&2
  exit 1
fi

if [ "$what" = test ] || [ "$what" = bench ]; then
  py=python3
  if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with the aws CLI and boto3"
    $py -m venv .venv
  fi
  if ! .venv/bin/python -c 'import boto3, pytest' 2>/dev/null || [ ! -x .venv/bin/aws ] \
     || ! cmp -s tests/requirements.txt .venv/.requirements 2>/dev/null; then
    .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
    cp tests/requirements.txt .venv/.requirements
  fi
fi
