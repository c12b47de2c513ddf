#!/usr/bin/env bash
# `make lint` (part of `make test`): the module boundaries of docs/architecture.md, and the
# formatting of every Swift file (.swift-format, swift-format from the toolchain).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 scripts/check-architecture.py
if ! swift format lint --strict --recursive --parallel Package.swift Sources Tests; then
  echo "lint: the files above are not formatted; run 'swift format --in-place --recursive --parallel Package.swift Sources Tests'" >&2
  exit 1
fi
echo "lint: every Swift file is formatted"
