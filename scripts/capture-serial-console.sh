#!/bin/bash
# Capture a real kselftest run through a serial console, kernel lines and all, for
# test/fixtures/captured/.
#
# Not run in CI: it needs root, a kernel source tree, a C toolchain, QEMU and minutes of TCG time.
# It builds a few small upstream selftest collections from Debian's linux-source-6.12 package,
# packs them with busybox, perl (for kselftest/prefix.pl), coreutils' timeout/stdbuf and auditctl
# into an initramfs, boots Debian's 6.12 kernel under QEMU with `console=ttyS0`, and keeps the
# guest's serial port, byte for byte, as a file (`-serial file:`). The guest runs the upstream
# run_kselftest.sh on the console (its stdout is /dev/console, the serial tty, as for any init)
# while the kernel prints to the same console: the runner's own `kselftest: Running tests in ...`
# (it writes /dev/kmsg), and the lines of a concurrent source, KLINES:
#   drop_caches       a loop writing /proc/sys/vm/drop_caches: the kernel's one-line
#                     `init (PID): drop_caches: 1`, 5 to 10 a second (default)
#   drop_caches-fast  the same, up to 100 a second (about 30 under TCG): the split nested headers
#   sysrq-m           the kernel's memory report (about 26 lines) once a second
# AUDIT=1 also turns audit on (`audit=1`, no auditd, printk's rate limit off) with a watch on
# executions under /ksft: the kernel prints every record (`audit: type=1300 ...`) on the console.
# The kernel's lines cut the tests' lines where prefix.pl has got to (it writes one character at a
# time); right after its `# `, they leave a nested `TAP version 13`, `1..N` or `ok N` bare.
#
#   apt-get install -y linux-source-6.12 qemu-system-x86 busybox libcap-dev
#   scripts/capture-serial-console.sh build      # unpack, make headers, build + install the tests
#   KLINES=drop_caches-fast scripts/capture-serial-console.sh initramfs  # the guest's root fs
#   scripts/capture-serial-console.sh capture N  # boot N times, each boot's console in its own file
#   scripts/capture-serial-console.sh find       # glued kernel lines, split nested headers
#
# WORK (default /tmp/sc13) holds everything. A capture is WORK/captures/serial-<time>.txt, the
# whole serial output of one boot (boot log, runner, power-off), never edited afterwards; the ones
# kept in test/fixtures/captured/ are copied from there as they are (SOURCES.md there says which).
set -u

WORK=${WORK:-/tmp/sc13}
SRC=${SRC:-$WORK/linux-source-6.12}
INSTALL=${INSTALL:-$WORK/install}
ROOT=${ROOT:-$WORK/initramfs}
JOBS=${JOBS:-2}
TARGETS=${TARGETS:-"size membarrier clone3 kcmp pidfd sigaltstack"}
KPKG=${KPKG:-linux-image-6.12.107+deb12-amd64-unsigned}
KLINES=${KLINES:-drop_caches}
# AUDIT=1: audit on, a watch on executions under /ksft, no auditd (records printed by the kernel).
AUDIT=${AUDIT:-0}
# pidfd_test and pidfd_poll_test run past the 45 s timeout under TCG: left out, the other pidfd
# tests run.
RUNNER_ARGS=${RUNNER_ARGS:-"-c clone3 -c kcmp -c membarrier -c sigaltstack -c size -t pidfd:pidfd_fdinfo_test -t pidfd:pidfd_open_test -t pidfd:pidfd_wait -t pidfd:pidfd_getfd_test -t pidfd:pidfd_setns_test"}

build () {
  mkdir -p "$WORK" || exit 1
  if [ ! -d "$SRC" ]; then
    tar xJf /usr/src/linux-source-6.12.tar.xz -C "$WORK" || exit 1
  fi
  nice make -C "$SRC" -j"$JOBS" headers || exit 1
  nice make -C "$SRC/tools/testing/selftests" -j"$JOBS" TARGETS="$TARGETS" \
    INSTALL_PATH="$INSTALL" install || exit 1
  # Debian's 6.12 kernel (the selftests' own version), and auditctl, unpacked, not installed.
  (cd "$WORK" && apt-get download "$KPKG" auditd libauparse0) || exit 1
  mkdir -p "$WORK/kimg" "$WORK/auditd"
  dpkg-deb -x "$WORK"/"$KPKG"_*.deb "$WORK/kimg" || exit 1
  for d in "$WORK"/auditd_*.deb "$WORK"/libauparse0_*.deb; do dpkg-deb -x "$d" "$WORK/auditd" || exit 1; done
}

# copy_bin FILE [DEST]: a host binary and the shared libraries it loads, into the initramfs.
copy_bin () {
  local f=$1 dest=${2:-$1}
  mkdir -p "$ROOT/$(dirname "$dest")"
  [ "$f" -ef "$ROOT/$dest" ] || cp -L "$f" "$ROOT/$dest"
  ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    [ -e "$lib" ] || continue
    mkdir -p "$ROOT/$(dirname "$lib")"
    [ -e "$ROOT/$lib" ] || cp -L "$lib" "$ROOT/$lib"
  done
}

initramfs () {
  rm -rf "$ROOT"
  mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,usr/libexec/coreutils,lib64,proc,sys,dev,tmp,etc,root}
  copy_bin /usr/bin/busybox /bin/busybox
  for a in $(/usr/bin/busybox --list); do [ -e "$ROOT/bin/$a" ] || ln -s busybox "$ROOT/bin/$a"; done
  ln -s /bin/busybox "$ROOT/usr/bin/env"   # prefix.pl's `#!/usr/bin/env perl`
  # perl for kselftest/prefix.pl (the runner falls back to sed without /usr/bin/perl),
  # coreutils' timeout and stdbuf as the runner looks for them (/usr/bin/...).
  copy_bin /usr/bin/perl
  mkdir -p "$ROOT/usr/lib/x86_64-linux-gnu"
  cp -a /usr/lib/x86_64-linux-gnu/perl-base "$ROOT/usr/lib/x86_64-linux-gnu/"
  copy_bin /usr/bin/timeout
  copy_bin /usr/bin/stdbuf
  copy_bin /usr/libexec/coreutils/libstdbuf.so
  LD_LIBRARY_PATH="$WORK/auditd/lib/x86_64-linux-gnu" copy_bin "$WORK/auditd/sbin/auditctl" /sbin/auditctl
  cp -a "$WORK"/auditd/lib/x86_64-linux-gnu/libauparse.so* "$ROOT/lib/x86_64-linux-gnu/"
  cp -a "$INSTALL" "$ROOT/ksft"
  find "$ROOT/ksft" -type f -perm -u+x | while read -r t; do
    file "$t" | grep -q ELF && copy_bin "$t" "${t#$ROOT}"
  done
  cat > "$ROOT/init" <<'EOF'
#!/bin/sh
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
# What udev would add: the runner appends the tests' output to /dev/stdout.
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
@AUDIT@# No auditd: the kernel prints each audit record on the console. Keep them all.
@AUDIT@echo 0 > /proc/sys/kernel/printk_ratelimit
@AUDIT@auditctl -w /ksft/ -p x -k ksft
# A concurrent source of kernel lines (here @KLINES@): drop_caches, the kernel's one-line
# `init (PID): drop_caches: 1` (the loop is a fork of init), two at a time, as fast as a 20 ms
# usleep lets the loop go under TCG (5 to 10 a second); drop_caches-fast, one every 10 ms `read -t`
# (a shell builtin: no fork, up to 100 a second); or sysrq-m, the memory report of sysrq-m (about 26
# lines) once a second.
case @KLINES@ in
  sysrq-m) (while :; do echo m > /proc/sysrq-trigger; sleep 1; done) & ;;
  drop_caches) (while :; do echo 1 > /proc/sys/vm/drop_caches; echo 1 > /proc/sys/vm/drop_caches; usleep 20000; done) & ;;
  drop_caches-fast) mkfifo /tmp/tick; (while :; do echo 1 > /proc/sys/vm/drop_caches; read -t 0.01 x <> /tmp/tick; done) & ;;
esac
cd /ksft
# stdout and stderr are /dev/console (ttyS0), as the kernel opened them for init.
./run_kselftest.sh @RUNNER_ARGS@
echo "ksft-capture: runner exit $?"
poweroff -f
EOF
  local audit='# '; [ "$AUDIT" = 1 ] && audit=
  sed -i "s|@RUNNER_ARGS@|$RUNNER_ARGS|; s|@KLINES@|$KLINES|g; s|@AUDIT@|$audit|" "$ROOT/init"
  chmod +x "$ROOT/init"
  (cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initramfs.cpio.gz" || exit 1
}

capture () {
  local n=${1:-1} i out
  mkdir -p "$WORK/captures"
  for i in $(seq 1 "$n"); do
    out=$WORK/captures/serial-$(date -u +%Y%m%dT%H%M%S).txt
    echo "== $out" >&2
    # TCG (no /dev/kvm here). -serial file: writes the guest's UART bytes as they come.
    timeout 900 nice qemu-system-x86_64 -machine pc -accel tcg -smp 2 -m 1024 \
      -kernel "$WORK"/kimg/boot/vmlinuz-* -initrd "$WORK/initramfs.cpio.gz" \
      -append "console=ttyS0 audit=$AUDIT panic=-1" \
      -display none -monitor none -serial "file:$out" -no-reboot
  done
}

# What the captures show: every line with a kernel line glued after some of its text, and each
# split nested header, that is a line that is only `# ` (or `#`) before a kernel line, with a bare
# `TAP version 13` as the next line that is not a kernel line.
find_split () {
  local f
  for f in "$WORK"/captures/serial-*.txt; do
    echo "== $f: $(grep -a -c -E '.\[ *[0-9]+\.[0-9]{6}\] ' "$f") lines with a kernel line glued after some text"
    awk '{ sub(/\r$/, "") }
      held && /^\[ *[0-9]+\.[0-9]+\] / { next }
      held { if ($0 == "TAP version 13") print "split nested header at line " held; held = 0 }
      /^# ?\[ *[0-9]+\.[0-9][0-9][0-9][0-9][0-9][0-9]\] / { held = NR }' "$f"
  done
}

case "${1:-}" in
  build) build ;;
  initramfs) initramfs ;;
  capture) shift; capture "$@" ;;
  find) find_split ;;
  *) sed -n '2,30p' "$0"; exit 2 ;;
esac
