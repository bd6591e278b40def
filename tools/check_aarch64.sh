#!/usr/bin/env bash
# Build gmmfast for aarch64 and test it there, under emulation, on an x86-64 Debian host:
#
#   sudo tools/check_aarch64.sh [PYTEST ARGS...]
#
# (default: the whole suite, tests/, in two pytest-xdist workers: the emulated
# interpreter is one thread most of the time, so two workers use both host cores)
#
# What it does, and what it shows:
#   1. an arm64 Debian (bookworm) root made by debootstrap, run through qemu-user-static
#      (binfmt_misc) as a Neoverse N1 ($GMMFAST_QEMU_CPU); kept in $GMMFAST_ARM64_ROOT
#      (default /var/tmp/gmmfast-arm64) and reused by later runs;
#   2. a venv in that root with numpy, scipy, scikit-learn and the test extras: PyPI's
#      aarch64 wheels;
#   3. the checkout's tracked files (as in the working tree) built there with aarch64 gcc
#      (GMMFAST_OPENMP=required) and installed;
#   4. show_config() of that build; it fails unless the kernels running are the NEON build
#      (vmath_impl() == "neon") and GMMFAST_ISA=baseline gives the baseline build;
#   5. the same models fitted by the NEON and the baseline builds (tests/test_vmath.py's
#      comparison of every build, and the thread-count identity of tests/test_threads.py);
#   6. pytest with the given arguments, from outside the source tree, against the
#      installed package.
# Emulation runs the kernels 10-30 times slower than the host: this is not part of
# .ci/run. Needs root (debootstrap, chroot, mounts) and the network (Debian, PyPI).
# Host packages: qemu-user-static binfmt-support debootstrap (apt-get installs them if
# missing).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
root=${GMMFAST_ARM64_ROOT:-/var/tmp/gmmfast-arm64}
mirror=${GMMFAST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'check_aarch64: FAIL: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || fail "run as root (debootstrap, chroot and mounts need it)"
(( $# )) || set -- -n 2 --durations=20 tests

step "host: qemu-user-static, debootstrap, binfmt_misc"
if ! command -v debootstrap >/dev/null || ! [[ -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P || -x /usr/bin/qemu-aarch64-static ]]; then
    apt-get update -qq
    apt-get install -y -qq qemu-user-static binfmt-support debootstrap
fi
if ! [[ -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if ! [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    update-binfmts --enable qemu-aarch64
fi
# F (fix binary): the interpreter is opened now, so it runs inside the chroot too
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
    || fail "qemu-aarch64 is registered without the F flag; reinstall qemu-user-static"

step "arm64 Debian root: $root"
if ! [[ -x $root/usr/bin/python3 ]]; then
    debootstrap --arch=arm64 --variant=minbase \
        --include=python3,python3-venv,python3-dev,gcc,libc6-dev,ca-certificates \
        bookworm "$root" "$mirror"
fi

mounts=()
cleanup() {
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" || true; done
}
trap cleanup EXIT
for fs in proc sys dev dev/pts; do
    if ! mountpoint -q "$root/$fs"; then
        mount --bind "/$fs" "$root/$fs"
        mounts+=("$root/$fs")
    fi
done
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# the host's certificate bundle: pip inside the root trusts what the host trusts
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/host-ca-certificates.crt"

# The emulated CPU: a Neoverse N1 (ASIMD with FMA, no SVE), as in AWS Graviton2 and
# Ampere Altra. qemu's default, "max", also emulates SME, and OpenBLAS's SME kernel then
# gives wrong float32 products (numpy alone, no gmmfast: 61 of 300 float32 20 x 20
# matrix products non-finite or wrong), which would fail the suite for nothing of ours.
qemu_cpu=${GMMFAST_QEMU_CPU:-neoverse-n1}

in_root() {   # a clean environment: none of the host's pip or Python settings
    chroot "$root" /usr/bin/env -i PATH=/venv/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
        QEMU_CPU="$qemu_cpu" \
        PIP_CERT=/etc/ssl/certs/host-ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
        PIP_DEFAULT_TIMEOUT=180 "$@"
}

step "uname in the root (emulated $qemu_cpu): $(in_root uname -m)"
[[ $(in_root uname -m) == aarch64 ]] || fail "the root does not run as aarch64"

step "venv with PyPI's aarch64 wheels"
if ! [[ -x $root/venv/bin/python ]]; then
    in_root python3 -m venv /venv
fi
# the build's requirements and pyproject.toml's "test" extra (gmr: the conditioning
# tests compare with it)
in_root pip install -q --only-binary=:all: "numpy>=2.0" scipy scikit-learn threadpoolctl \
    "Cython>=3.0.10" "setuptools>=68" pytest hypothesis pandas matplotlib "dask[array]" \
    distributed psutil "gmr>=1.6" pytest-xdist

step "gmmfast, built for aarch64 from the checkout's tracked files"
rm -rf "$root/src/gmmfast"
mkdir -p "$root/src/gmmfast"
(cd "$repo" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$root/src/gmmfast"
in_root sh -c 'cd /src/gmmfast && GMMFAST_OPENMP=required GMMFAST_NO_INPLACE_COPY=1 \
    pip install -q --no-build-isolation --no-deps . 2>&1 | grep -v "^ *warning" || true'
in_root python -c "import gmmfast" || fail "gmmfast did not build or install"

step "show_config() on aarch64"
in_root sh -c 'cd / && python -c "
import gmmfast
from gmmfast import _kernels
info = gmmfast.show_config()
assert info[\"isa\"] == _kernels.vmath_impl() == \"neon\", info[\"isa\"]
assert \"neon\" in info[\"isa_builds\"], info[\"isa_builds\"]
assert info[\"openmp\"], \"built without OpenMP\"
print(\"vmath_impl():\", _kernels.vmath_impl())
"' || fail "the NEON build is not the one running"
in_root sh -c 'cd / && GMMFAST_ISA=baseline python -c "
from gmmfast import _kernels
assert _kernels.vmath_impl() == \"baseline\", _kernels.vmath_impl()
print(\"GMMFAST_ISA=baseline: vmath_impl():\", _kernels.vmath_impl())
"' || fail "GMMFAST_ISA=baseline does not select the baseline build"

step "the NEON and baseline builds fit the same models; threads change no bit"
in_root sh -c 'cd / && GMMFAST_TEST_INSTALLED=1 python -m pytest -q -p no:cacheprovider \
    /src/gmmfast/tests/test_vmath.py /src/gmmfast/tests/test_threads.py'

step "pytest $*"
args=()
for a in "$@"; do   # a path of the checkout (tests/x.py::test) is given relative to its top
    if [[ -e $repo/${a%%::*} ]]; then args+=("/src/gmmfast/$a"); else args+=("$a"); fi
done
in_root sh -c "cd / && GMMFAST_TEST_INSTALLED=1 GMMFAST_EXPECT_OPENMP=1 python -m pytest -q \
    -p no:cacheprovider $(printf ' %q' "${args[@]}")"

step "check_aarch64: OK"
