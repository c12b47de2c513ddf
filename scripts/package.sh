#!/usr/bin/env bash
# Builds breakout_<version>_<arch>.deb from a release build with the Swift runtime linked
# statically: the target machine needs no Swift, only Debian's runtime packages of the C client
# libraries, which this script derives from what the binary links (ldd + dpkg -S).
#
#   scripts/package.sh [OUTDIR]      (make package; OUTDIR defaults to .build-package/)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${1:-$root/.build-package}
mkdir -p "$out"

number=$(sed -n 's/^    static let number = "\(.*\)"$/\1/p' Sources/CLI/Breakout.swift)
commit=$(git rev-parse --short=12 HEAD)
dirty=""
git diff --quiet HEAD -- Sources Package.swift Package.resolved || dirty="-dirty"
date=$(git log -1 --format=%cd --date=format:%Y%m%d HEAD)
version="${number}+git${date}.${commit}${dirty/-dirty/.dirty}"
arch=$(dpkg --print-architecture)
echo "package: breakout $version ($arch)" >&2

# The commit goes into the binary for `breakout --version`; the file is restored afterwards.
info=Sources/CLI/BuildInfo.swift
cp "$info" "$out/BuildInfo.swift.orig"
restore() { cp "$out/BuildInfo.swift.orig" "$info"; }
trap restore EXIT
sed -i "s/static let commit: String? = nil/static let commit: String? = \"${commit}${dirty}\"/" "$info"
# Static Foundation's networking (alert webhooks) calls libcurl, which stays Debian's shared one
# (libcurl4-openssl-dev gives the linker its libcurl.so; scripts/install-deps.sh --package).
flags=(-c release --static-swift-stdlib -Xlinker -lcurl)
swift build "${flags[@]}" --product breakout >&2
restore
trap - EXIT
bin=$(swift build "${flags[@]}" --show-bin-path)/breakout

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/breakout"
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/share/man/man1" "$pkg/usr/share/doc/breakout" \
  "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" "$pkg/usr/share/fish/vendor_completions.d" \
  "$pkg/lib/systemd/system" "$pkg/etc/breakout/organizations" "$pkg/usr/share/breakout/examples"
install -m 0755 "$bin" "$pkg/usr/bin/breakout"
strip --strip-unneeded "$pkg/usr/bin/breakout"

# Man pages, one per command, from argument-parser's help (its generate-manual plugin, on the
# debug build: the help text is the same, and the release products need no second build).
swift package --allow-writing-to-package-directory generate-manual --configuration debug --multi-page \
  --authors "the breakout developers" --section 1 >&2
manual=$(swift build --show-bin-path | sed 's#/[^/]*/debug$##')/plugins/GenerateManual/outputs/breakout
[[ -d "$manual" ]] || manual=.build/plugins/GenerateManual/outputs/breakout
# breakout.cron.run.1 → breakout-cron-run.1 (man breakout-cron-run, as git's pages); the hidden
# run-job command (the runner's child) gets none.
for page in "$manual"/breakout*.1; do
  name=$(basename "$page" .1 | tr . -)
  [[ "$name" == breakout-run-job ]] && continue
  # The page's own name and its SEE ALSO references follow the file names.
  sed -E -e '/^\.Dt /s/\./-/g; s/^-Dt/.Dt/' -e '/^\.Xr breakout/s/\./-/g; s/^-Xr/.Xr/' \
    -e '/^\.Xr breakout-run-job /d' "$page" > "$pkg/usr/share/man/man1/$name.1"
  chmod 0644 "$pkg/usr/share/man/man1/$name.1"
done
ls "$pkg"/usr/share/man/man1/breakout.1 >/dev/null
gzip -9nf "$pkg"/usr/share/man/man1/*.1

# Completions, from the binary itself.
"$pkg/usr/bin/breakout" --generate-completion-script bash > "$pkg/usr/share/bash-completion/completions/breakout"
"$pkg/usr/bin/breakout" --generate-completion-script zsh > "$pkg/usr/share/zsh/vendor-completions/_breakout"
"$pkg/usr/bin/breakout" --generate-completion-script fish > "$pkg/usr/share/fish/vendor_completions.d/breakout.fish"

# The units, the example configuration (a working demo on the bundled sample), the docs.
install -m 0644 packaging/breakout.service packaging/breakout-cron.service packaging/breakout-cron.timer "$pkg/lib/systemd/system/"
cp -r examples/quickstart "$pkg/usr/share/breakout/examples/"
rm -rf "$pkg/usr/share/breakout/examples/quickstart/.breakout"
install -m 0644 packaging/etc/breakout.yaml "$pkg/etc/breakout/breakout.yaml"
install -m 0644 packaging/etc/organizations/demo.yaml "$pkg/etc/breakout/organizations/demo.yaml"
install -d "$pkg/etc/default"
install -m 0644 packaging/etc/default "$pkg/etc/default/breakout"
install -m 0644 README.md "$pkg/usr/share/doc/breakout/"
cp -r docs "$pkg/usr/share/doc/breakout/"
install -m 0644 packaging/copyright "$pkg/usr/share/doc/breakout/copyright"
install -m 0755 packaging/postinst packaging/postrm "$pkg/DEBIAN/"
printf '/etc/breakout/breakout.yaml\n/etc/breakout/organizations/demo.yaml\n/etc/default/breakout\n' > "$pkg/DEBIAN/conffiles"

# Depends: the Debian packages of the shared libraries the binary links, nothing hand-kept.
depends=$(scripts/package-depends.sh "$pkg/usr/bin/breakout")
size=$(du -sk "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<EOF
Package: breakout
Version: $version
Architecture: $arch
Maintainer: breakout developers <breakout@localhost>
Installed-Size: $size
Depends: adduser, $depends
Recommends: man-db
Section: database
Priority: optional
Homepage: https://github.com/breakout-dev/breakout
Description: CSPro/CSWeb cases into relational tables, on a schedule
 breakout turns the compressed case blobs CSWeb stores into relational tables in
 each organization's own PostgreSQL, MySQL/MariaDB, SQL Server or SQLite
 database. Organizations, connections and jobs are declared in YAML kept in git;
 apply reconciles them into control tables, and a runner (a systemd service, or
 a timer) runs the jobs.
EOF
deb="$out/breakout_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$pkg" "$deb" >&2
echo "$deb"
