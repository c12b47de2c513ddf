#!/usr/bin/env bash
# Installs the Debian packages breakout needs, only those that are missing.
#   scripts/install-deps.sh            build dependencies (C client libraries)
#   scripts/install-deps.sh --servers  also the PostgreSQL and MariaDB servers and clients the tests start, and php-cli for the PHP interoperability test of secrets
set -euo pipefail

packages=(pkg-config libpq-dev libmariadb-dev freetds-dev libsqlite3-dev libdeflate-dev libssl-dev sqlite3)
if [[ "${1:-}" == "--servers" ]]; then
  packages+=(postgresql postgresql-client mariadb-server mariadb-client php-cli)
fi
# make package links Foundation statically, whose networking needs libcurl's development link;
# make package-test makes a fresh Debian root with debootstrap.
if [[ "${1:-}" == "--package" ]]; then
  packages+=(libcurl4-openssl-dev dpkg-dev debootstrap)
fi

# The schema tests run scripts/check-schema.py, which needs Python's jsonschema and PyYAML.
if [[ "${1:-}" == "--servers" ]] && ! python3 -c 'import jsonschema, yaml' 2>/dev/null; then
  echo "install-deps: installing Python jsonschema and PyYAML" >&2
  python3 -m pip install --quiet jsonschema pyyaml 2>/dev/null || packages+=(python3-jsonschema python3-yaml)
fi
# The export tests read the .dta and .sav files back with the reference readers, pyreadstat (with
# pandas), and the .parquet files with pyarrow,
# from PyPI, for the python3 the tests run.
if [[ "${1:-}" == "--servers" ]] && ! python3 -c 'import pyreadstat, pandas, pyarrow' 2>/dev/null; then
  echo "install-deps: installing Python pyreadstat, pandas and pyarrow" >&2
  python3 -m pip install --quiet pyreadstat pandas pyarrow
fi
# The cron tests compare next-fire times with an independent implementation (croniter); the
# dashboard tests parse /metrics with the Prometheus client's parser, fetch pages with curl and take
# screenshots with headless Chromium.
if [[ "${1:-}" == "--servers" ]]; then
  /usr/bin/python3 -c 'import croniter' 2>/dev/null || packages+=(python3-croniter)
  /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || packages+=(python3-prometheus-client)
  packages+=(chromium curl)
  # The fault suite runs one runner 5 minutes ahead with libfaketime.
  packages+=(faketime)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Packaged servers must not start system-wide services; our tests start their own.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ -n "${created_policy:-}" ]]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
