#!/bin/sh
# OS bootstrap for the mwaa-local image: the only place that knows dnf (Amazon Linux 2023, MWAA's
# base) from apt (Debian). Needs PYTHON_VERSION and UV_VERSION; reads /tmp/mwaa-local-build/.
set -eu
build=/tmp/mwaa-local-build
python="python${PYTHON_VERSION}"
home=/usr/local/mwaa-local

fail() { echo "bootstrap-os: $*" >&2; exit 1; }

# git: requirements may name `git+https://...` packages (mwaa-behaviour.md 2.2), which pip and uv
# clone with the git command.
if command -v dnf >/dev/null 2>&1 || command -v yum >/dev/null 2>&1; then
  pm=$(command -v dnf || command -v yum)
  packages="sudo procps-ng shadow-utils ca-certificates findutils tar gzip git"
  command -v "$python" >/dev/null 2>&1 || packages="$packages $python $python-pip"
  "$pm" install -y -q $packages
  "$pm" clean all
  rm -rf /var/cache/dnf /var/cache/yum
  trust_dir=/etc/pki/ca-trust/source/anchors; trust_update=update-ca-trust
  system_bundle=/etc/pki/tls/certs/ca-bundle.crt
elif command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  packages="sudo procps ca-certificates git"
  command -v "$python" >/dev/null 2>&1 || packages="$packages $python ${python}-venv"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $packages >/dev/null
  rm -rf /var/lib/apt/lists/*
  trust_dir=/usr/local/share/ca-certificates; trust_update=update-ca-certificates
  system_bundle=/etc/ssl/certs/ca-certificates.crt
else
  fail "the base image has neither dnf nor apt-get; use an Amazon Linux 2023 or Debian base"
fi

command -v "$python" >/dev/null 2>&1 ||
  fail "the base image has no $python and its package manager does not offer it; use a base with Python $PYTHON_VERSION (for instance python:$PYTHON_VERSION-slim-bookworm)"

# A CA bundle for TLS-inspecting networks joins the system trust store, and one stable path names
# the result for every client (Python ssl, pip, uv, requests, boto) in the build and at runtime.
mkdir -p "$home/bin" "$home/uv-cache"
if [ -s "$build/ca-bundle.pem" ]; then
  cp "$build/ca-bundle.pem" "$trust_dir/mwaa-local-ca-bundle.crt"
  "$trust_update" >/dev/null 2>&1 || fail "$trust_update failed on the CA bundle"
fi
ln -sf "$system_bundle" "$home/ca-certificates.crt"

# The airflow user, as on MWAA: home /usr/local/airflow, passwordless sudo for startup scripts.
id airflow >/dev/null 2>&1 || useradd --create-home --home-dir /usr/local/airflow --shell /bin/bash airflow
echo 'airflow ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/airflow
chmod 0440 /etc/sudoers.d/airflow
mkdir -p /usr/local/airflow/.local/etc /usr/local/airflow/dags /usr/local/airflow/plugins /usr/local/airflow/logs \
  /usr/local/airflow/requirements /usr/local/airflow/startup
chown -R airflow /usr/local/airflow "$home/uv-cache"

# uv in a venv of its own, off the airflow user's site; then the one interpreter every process uses.
"$python" -m venv "$home/uv"
"$home/uv/bin/pip" install -q --disable-pip-version-check --cert "$home/ca-certificates.crt" "uv==$UV_VERSION"
ln -sf "$home/uv/bin/uv" "$home/bin/uv"
ln -sf "$(command -v "$python")" "$home/bin/python3"
ln -sf "$(command -v "$python")" "$home/bin/python"
