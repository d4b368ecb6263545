#!/usr/bin/env bash
# Builds the local base images the tests use, since no image registry is reachable here:
#   local/debian:bookworm       debootstrap minbase (Python 3.11 from apt: MWAA's Python up to 2.10.3)
#   local/python:3.12-bookworm  the same plus CPython 3.12 in /usr/local, like the official python:3.12
#                               images (Debian ships no 3.12; we copy the machine's pyenv build)
#   local/postgres:15, local/redis:7
#                               stand-ins for the official postgres and redis images
# Each image is skipped when present, so repeated runs cost nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

have() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have local/debian:bookworm; then
  rootfs=$(mktemp -d /tmp/rootfs-bookworm.XXXX)
  echo "base-images: debootstrap bookworm (about 40 s)"
  debootstrap --variant=minbase bookworm "$rootfs" >/tmp/debootstrap.log 2>&1 ||
    { tail -20 /tmp/debootstrap.log; exit 1; }
  tar -C "$rootfs" -c . | docker import - local/debian:bookworm >/dev/null
  rm -rf "$rootfs"
fi

if ! have local/python:3.12-bookworm; then
  py=""
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12.*; do
    [ -x "$candidate/bin/python3.12" ] && py=$candidate
  done
  if [ -z "$py" ]; then
    echo "base-images: no CPython 3.12 found under ${PYENV_ROOT:-$HOME/.pyenv}/versions; cannot build local/python:3.12-bookworm" >&2
    exit 1
  fi
  ctx=$(mktemp -d /tmp/python-base.XXXX)
  echo "base-images: local/python:3.12-bookworm from $py"
  tar -C "$py" -cf "$ctx/python.tar" \
    --exclude='lib/python3.12/test' --exclude='lib/python3.12/idlelib' \
    --exclude='lib/python3.12/tkinter' --exclude='lib/python3.12/turtledemo' \
    --exclude='lib/python3.12/site-packages/*' --exclude='__pycache__' bin include lib share
  cp "$here/base-images/python.Dockerfile" "$ctx/Dockerfile"
  docker build -q -t local/python:3.12-bookworm "$ctx" >/dev/null
  rm -rf "$ctx"
fi

for image in postgres:15 redis:7; do
  name=${image%%:*}
  if ! have "local/$image"; then
    echo "base-images: local/$image"
    docker build -q -t "local/$image" -f "$here/base-images/$name.Dockerfile" "$here/base-images" >/dev/null
  fi
done
