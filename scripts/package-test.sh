#!/usr/bin/env bash
# Proves the .deb on a fresh Debian 12 root, not on the build machine (make package-test):
# debootstrap a minimal bookworm (cached as a tarball after the first time), install the package
# there with apt (its Depends: from Debian's archive), and check it like an operator would.
# Needs root and network access to the Debian archive. One line per check, then "N passed, N failed".
#
#   scripts/package-test.sh [DEB]      (default: the newest .build-package/breakout_*.deb)
set -uo pipefail
cd "$(dirname "$0")/.."
deb=${1:-$(ls -t .build-package/breakout_*.deb 2>/dev/null | head -1)}
[[ -f "$deb" ]] || { echo "package-test: no .deb (run make package first)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "package-test: needs root (debootstrap, chroot)" >&2; exit 2; }
mirror=${BREAKOUT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${BREAKOUT_PACKAGE_BASE:-/var/tmp/breakout-bookworm-minbase.tar}
root=$(mktemp -d /var/tmp/breakout-package-root.XXXXXX)

command -v debootstrap >/dev/null || { echo "package-test: installing debootstrap" >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; }
if [[ ! -f "$cache" ]]; then
  echo "package-test: debootstrap bookworm (minbase) from $mirror, once" >&2
  base=$(mktemp -d /var/tmp/breakout-bookworm.XXXXXX)
  chmod 0755 "$base"   # mktemp's 0700 would become the root's /, closed to every other user
  debootstrap --variant=minbase bookworm "$base" "$mirror" >&2 || { echo "package-test: debootstrap failed" >&2; exit 2; }
  tar -C "$base" -cf "$cache" . && rm -rf "$base"
fi
tar -C "$root" -xf "$cache"
chmod 0755 "$root"
cleanup() {
  for m in proc dev/pts dev; do umount "$root/$m" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/breakout.deb"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
as_breakout() { in_root runuser -u breakout -- /usr/bin/env BREAKOUT_KEY_FILE=/etc/breakout/master.key "$@"; }

passed=0 failed=0
check() {   # check NAME COMMAND…: PASS when the command exits 0; its last output line is the detail
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then passed=$((passed + 1)); echo "PASS  $name — $(tail -1 <<<"$out" | cut -c1-120)"
  else failed=$((failed + 1)); echo "FAIL  $name — $(tail -3 <<<"$out" | tr '\n' ' ' | cut -c1-300)"; fi
}

check "no Swift toolchain in the fresh root" sh -c "! chroot '$root' sh -c 'command -v swift || ls /usr/lib/swift /opt/swift' >/dev/null 2>&1 && echo none"
check "apt installs the package and its Depends from Debian" in_root sh -c \
  'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/breakout.deb man-db systemd >/tmp/apt.log 2>&1 || { tail -5 /tmp/apt.log; exit 1; }; dpkg -s breakout | grep ^Version'
check "breakout --version prints the version and commit" sh -c "chroot '$root' /usr/bin/breakout --version | grep -E '^[0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{12}'"
check "the binary links only Debian libraries" sh -c "chroot '$root' ldd /usr/bin/breakout | grep -v 'not found' | grep -vc swift >/dev/null && ! chroot '$root' ldd /usr/bin/breakout | grep -E 'not found|swift' && echo ok"
check "man -w breakout, man -w breakout-cron-run" in_root sh -c 'man -w breakout && man -w breakout-cron-run'
check "bash, zsh and fish completions" in_root sh -c 'test -s /usr/share/bash-completion/completions/breakout && test -s /usr/share/zsh/vendor-completions/_breakout && test -s /usr/share/fish/vendor_completions.d/breakout.fish && echo three'
check "service account, data root 0700, key 0600 owned by breakout" in_root sh -c \
  'getent passwd breakout >/dev/null && [ "$(stat -c %a:%U /var/lib/breakout)" = 700:breakout ] && [ "$(stat -c %a:%U /etc/breakout/master.key)" = 600:breakout ] && stat -c "%n %a %U:%G" /etc/breakout /var/lib/breakout /etc/breakout/master.key | tr "\n" " "'
check "units installed and valid (systemd-analyze verify)" sh -c \
  "ls '$root'/lib/systemd/system/breakout.service '$root'/lib/systemd/system/breakout-cron.service '$root'/lib/systemd/system/breakout-cron.timer >/dev/null && systemd-analyze verify --man=no --root='$root' breakout.service breakout-cron.service breakout-cron.timer 2>&1 | { ! grep -E 'breakout' ; } && echo verified"
check "breakout validate on the installed example" as_breakout /usr/bin/breakout validate -c /etc/breakout
check "the demo breakout from the installed files" as_breakout sh -c \
  '/usr/bin/breakout apply -c /etc/breakout --auto-approve >/dev/null && /usr/bin/breakout jobs run demo/breakout-hourly --wait -c /etc/breakout | grep -E "^CENSUS: [0-9]+ cases loaded"'
# No systemd runs in a chroot: the unit's own ExecStart (with /etc/default/breakout's values), as
# its User, stands for `systemctl start`; `systemctl --root enable` shows the unit installs.
unit_ticks() {
  local unit=$root/lib/systemd/system/breakout.service
  local user config key cmd pid
  user=$(sed -n 's/^User=//p' "$unit")
  config=$(sed -n 's/^BREAKOUT_CONFIG=//p' "$root/etc/default/breakout")
  key=$(sed -n 's/^BREAKOUT_KEY_FILE=//p' "$root/etc/default/breakout")
  cmd=$(sed -n 's/^ExecStart=//p' "$unit" | sed "s#\${BREAKOUT_CONFIG}#$config#")
  echo "as $user: $cmd"
  # shellcheck disable=SC2086
  chroot "$root" runuser -u "$user" -- /usr/bin/env BREAKOUT_KEY_FILE="$key" $cmd --max-sleep 1 >/tmp/breakout-package-daemon.log 2>&1 &
  pid=$!
  sleep 4
  chroot "$root" runuser -u "$user" -- /usr/bin/env BREAKOUT_KEY_FILE="$key" /usr/bin/breakout status -c "$config" >/tmp/breakout-package-status.txt 2>&1
  kill -TERM "$(pgrep -f "breakout run -c $config" | head -1)" 2>/dev/null
  wait "$pid" 2>/dev/null
  grep -E 'daemon +last tick [0-9]+ s ago +ok' /tmp/breakout-package-status.txt || { cat /tmp/breakout-package-daemon.log /tmp/breakout-package-status.txt; return 1; }
}
check "the unit's ExecStart as its User ticks; breakout status shows it" unit_ticks
check "systemctl --root enable breakout.service" sh -c "systemctl --root='$root' enable breakout.service 2>&1 && test -L '$root/etc/systemd/system/multi-user.target.wants/breakout.service' && echo enabled"
check "dpkg --remove keeps the configuration, data and account" in_root sh -c \
  'dpkg --remove breakout >/dev/null && ! test -e /usr/bin/breakout && test -d /etc/breakout && test -f /var/lib/breakout/state.db && getent passwd breakout >/dev/null && echo kept'
check "dpkg --purge removes them" in_root sh -c \
  'dpkg --purge breakout >/dev/null && ! test -e /etc/breakout && ! test -e /var/lib/breakout && ! getent passwd breakout >/dev/null && echo gone'
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
