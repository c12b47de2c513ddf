#!/usr/bin/env bash
# Prints the Depends: field for a binary: the Debian package of every shared library it needs
# directly (readelf's NEEDED entries, resolved to files by ldd, then dpkg -S; a library no Debian
# package owns is an error: it would not be on the target). The minimum versions are the ones the
# symbols it uses need (dpkg-shlibdeps), not the build host's; without dpkg-dev, the names alone.
# The libraries those need come with their packages' own Depends.
#   scripts/package-depends.sh BINARY
set -euo pipefail
bin=$1
declare -A path_of=() seen=()
while read -r name path; do path_of[$name]=$path; done < <(ldd "$bin" | awk '/=> \// { print $1, $3 } /^\t\/lib/ { n = $1; sub(".*/", "", n); print n, $1 }')
out=()
for name in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  path=${path_of[$name]:-}
  if [[ -z "$path" ]]; then echo "package-depends: $name is not found on this system (ldd)" >&2; exit 1; fi
  pkg=""
  for candidate in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr$path"; do
    pkg=$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1) && [[ -n "$pkg" ]] && break
  done
  if [[ -z "$pkg" ]]; then echo "package-depends: no Debian package owns $path ($name): it would not be on the target" >&2; exit 1; fi
  [[ -n "${seen[$pkg]:-}" ]] && continue
  seen[$pkg]=1
  out+=("$pkg")
done
if command -v dpkg-shlibdeps >/dev/null; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/debian"
  printf 'Source: breakout\n\nPackage: breakout\nArchitecture: any\n' > "$work/debian/control"
  cp "$bin" "$work/breakout"
  line=$(cd "$work" && dpkg-shlibdeps -O -e breakout 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  for pkg in "${out[@]}"; do
    [[ ", $line," == *", $pkg "* || ", $line," == *", $pkg,"* ]] || { echo "package-depends: dpkg-shlibdeps did not list $pkg" >&2; exit 1; }
  done
  echo "$line"
else
  (IFS=,; echo "${out[*]}" | sed 's/,/, /g')
fi
