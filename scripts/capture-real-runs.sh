#!/bin/bash
# Capture real kselftest runs of the upstream runner for test/fixtures/captured/.
#
# Not run in CI: it needs root, a kernel source tree, a C toolchain, libfuse, iproute2 and a few
# minutes. It builds the memfd selftests and a handful of kvm selftests from Debian's
# linux-source-6.12 package, then runs them in each mode of run_kselftest.sh (and make run_tests)
# and keeps each run's output byte for byte, as the runner wrote it.
#
#   apt-get install -y linux-source-6.12 fuse libfuse-dev iproute2 libcap-dev libnuma-dev pkg-config
#   scripts/capture-real-runs.sh build     # unpack /usr/src/linux-source-6.12.tar.xz, build, install
#   scripts/capture-real-runs.sh capture   # the runs, into $OUT
#   scripts/capture-real-runs.sh capture-prefixed  # runs behind a harness's line prefix (needs moreutils)
#   scripts/capture-real-runs.sh machine   # what to write in SOURCES.md about this machine
#
# WORK (default /tmp/kcap) holds the tree and the install; OUT (default test/fixtures/captured)
# the logs. The captured files are never edited afterwards: a new capture is a new file.
set -u

WORK=${WORK:-/tmp/kcap}
SRC=${SRC:-$WORK/linux-source-6.12}
INSTALL=${INSTALL:-$WORK/install}
OUT=${OUT:-$(cd "$(dirname "$0")/.." && pwd)/test/fixtures/captured}
JOBS=${JOBS:-2}
# A handful of kvm tests, not the whole collection: the machines this runs on have two cores.
# Generic tests and x86 ones that need VMX or SVM, so that both passes and skips show.
KVM_TESTS=${KVM_TESTS:-"kvm_create_max_vcpus set_memory_region_test guest_memfd_test kvm_binary_stats_test guest_print_test x86_64/cpuid_test x86_64/vmx_msrs_test x86_64/svm_vmcall_test"}

build () {
  if [ ! -d "$SRC" ]; then
    mkdir -p "$WORK" && tar xJf /usr/src/linux-source-6.12.tar.xz -C "$WORK" || exit 1
  fi
  nice make -C "$SRC" -j"$JOBS" headers || exit 1
  # Setting the per-arch lists on the command line overrides the kvm Makefile's own lists.
  nice make -C "$SRC/tools/testing/selftests" -j"$JOBS" TARGETS="memfd kvm" \
    TEST_GEN_PROGS_x86_64="$KVM_TESTS" TEST_PROGS_x86_64= TEST_GEN_PROGS_EXTENDED_x86_64= \
    INSTALL_PATH="$INSTALL" install || exit 1
}

# run NAME COMMAND...: run a command in the install dir, its stdout and stderr through a pipe into
# $OUT/NAME.txt, as a CI job's `2>&1 | tee ksft.log` keeps them. A pipe matters: the runner reopens
# /dev/stdout to append the tests' output, which into a plain file writes over its own lines (see
# the to-file capture below).
run () {
  local name=$1; shift
  echo "== $name: $*" >&2
  (cd "$INSTALL" && "$@" 2>&1 | cat > "$OUT/$name.txt")
}

capture () {
  mkdir -p "$OUT"
  cd "$INSTALL" || exit 1

  # The runner as root, serially: kvm then memfd (the runner sorts the collections).
  run run_kselftest-root ./run_kselftest.sh -c memfd -c kvm

  # The same, stdout redirected into a file instead of a pipe: the runner's `>> /dev/stdout`
  # appends the tests' output at the file's end while its own echoes write at their offset.
  echo "== run_kselftest-stdout-to-file" >&2
  ./run_kselftest.sh -c memfd -c kvm > "$OUT/run_kselftest-stdout-to-file.txt" 2>&1

  # -n: each test in its own network namespace, all started at once; results in completion order.
  run run_kselftest-netns ./run_kselftest.sh -n -c memfd -c kvm

  # -p: each test's output goes to /tmp/<test name>; the console keeps headers and results.
  run run_kselftest-per-test-log ./run_kselftest.sh -p -c memfd -c kvm
  for t in memfd_test run_fuse_test.sh run_hugetlbfs_test.sh; do
    cp "/tmp/$t" "$OUT/run_kselftest-per-test-log.tmp-$t.txt"
  done

  # -n and -p together: headers as tests start, results as they finish.
  run run_kselftest-netns-per-test-log ./run_kselftest.sh -n -p -c memfd -c kvm

  # -s: the detailed log goes to output.log beside the runner, the console keeps the summary.
  run run_kselftest-summary ./run_kselftest.sh -s -c memfd -c kvm
  cp "$INSTALL/output.log" "$OUT/run_kselftest-summary.output-log.txt"

  # -o 1: a one-second timeout that the fuse and hugetlbfs scripts overrun. A timed-out script
  # leaves its fuse_mnt daemon mounted and holding the pipe open (a `| tee` would wait for it too),
  # so the wrapper unmounts it once the runner is done.
  run run_kselftest-override-timeout bash -c '
    ./run_kselftest.sh -o 1 -c memfd
    sleep 1; fusermount -u ./memfd/mnt 2>/dev/null; true'

  # A test killed with SIGKILL partway through (as an OOM killer or a watchdog would).
  run run_kselftest-test-killed bash -c '
    ./run_kselftest.sh -c memfd &
    runner=$!
    for i in $(seq 1 2000); do pid=$(pgrep -x memfd_test) && break; sleep 0.005; done
    [ -n "$pid" ] && kill -KILL $pid
    wait $runner'

  # The runner itself killed with SIGKILL partway through: the log stops mid-test.
  run run_kselftest-runner-killed bash -c '
    setsid ./run_kselftest.sh -c memfd -c kvm &
    runner=$!
    for i in $(seq 1 2000); do pgrep -x fuse_test >/dev/null && break; sleep 0.005; done
    kill -KILL -$runner
    wait $runner 2>/dev/null
    sleep 1; fusermount -u ./memfd/mnt 2>/dev/null; true'

  # Not root: as the nobody user, from a copy it may write to, through a pipe nobody made (the
  # runner reopens /dev/stdout, and a pipe made by root is not nobody's to open).
  rm -rf "$WORK/install-nobody" && cp -a "$INSTALL" "$WORK/install-nobody" && chown -R nobody "$WORK/install-nobody"
  echo "== run_kselftest-nobody" >&2
  (cd "$WORK/install-nobody" && runuser -u nobody -- sh -c './run_kselftest.sh -c memfd -c kvm 2>&1 | cat') \
    > "$OUT/run_kselftest-nobody.txt"
  # ... and as nobody writing into root's pipe, as `sudo -u nobody ./run_kselftest.sh | tee` does.
  echo "== run_kselftest-nobody-stdout-not-writable" >&2
  (cd "$WORK/install-nobody" && runuser -u nobody -- ./run_kselftest.sh -c memfd -c kvm 2>&1 | cat) \
    > "$OUT/run_kselftest-nobody-stdout-not-writable.txt"

  # make run_tests from the source tree (make's own lines included).
  echo "== make-run_tests" >&2
  (cd "$SRC" && make -C tools/testing/selftests TARGETS="memfd kvm" \
    TEST_GEN_PROGS_x86_64="$KVM_TESTS" TEST_PROGS_x86_64= TEST_GEN_PROGS_EXTENDED_x86_64= run_tests 2>&1 | cat) \
    > "$OUT/make-run_tests.txt"
}

# Runs as a harness keeps them: each line behind a prefix the harness adds, or the kernel's own
# messages in the same stream. Kept apart from capture so that it adds files and rewrites none.
capture_prefixed () {
  mkdir -p "$OUT"
  cd "$INSTALL" || exit 1

  # An ISO timestamp before every line, as GitHub Actions keeps a job's log (moreutils' ts writes
  # 6 fraction digits where Actions writes 7).
  echo "== run_kselftest-iso-timestamps" >&2
  ./run_kselftest.sh -c memfd -c kvm 2>&1 | TZ=UTC ts '%Y-%m-%dT%H:%M:%.SZ' > "$OUT/run_kselftest-iso-timestamps.txt"

  # A bracketed date and time before every line, as many CI wrappers print it.
  echo "== run_kselftest-bracket-timestamps" >&2
  ./run_kselftest.sh -c memfd -c kvm 2>&1 | TZ=UTC ts '[%Y-%m-%d %H:%M:%S]' > "$OUT/run_kselftest-bracket-timestamps.txt"

  # The kernel's new messages (dmesg -W) in the same stream as the runner's, as on a serial console.
  echo "== run_kselftest-with-kmsg" >&2
  (dmesg -W & dm=$!; ./run_kselftest.sh -c memfd -c kvm; sleep 1; kill $dm) 2>&1 | cat > "$OUT/run_kselftest-with-kmsg.txt"
}

machine () {
  date -u '+%Y-%m-%d %H:%M UTC'
  uname -a
  echo "nproc: $(nproc)"
  if [ -e /dev/kvm ]; then echo "/dev/kvm: present"; else echo "/dev/kvm: absent"; fi
  echo "cpu flags: $(grep -m1 -o -w -E 'vmx|svm|hypervisor' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  grep -m1 'model name' /proc/cpuinfo
  dpkg-query -W linux-source-6.12
}

case "${1:-}" in
  build) build ;;
  capture) capture ;;
  capture-prefixed) capture_prefixed ;;
  machine) machine ;;
  *) echo "usage: $0 build|capture|capture-prefixed|machine" >&2; exit 2 ;;
esac
