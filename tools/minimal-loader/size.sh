#!/bin/sh
# The size benchmark's two build routes, for x86_64 and aarch64 static musl, each binary
# stripped (profile min-size), with its size in bytes:
#   stable     cargo build -p minimal-loader --profile min-size --target <arch>-unknown-linux-musl
#              (what `cargo xtask vm-test` builds and runs in the VMs)
#   build-std  the same, with std rebuilt for size and panics aborting at once:
#              RUSTC_BOOTSTRAP=1 (as the eBPF build route already uses), -Zbuild-std=std,panic_abort
#              -Zbuild-std-features=optimize_for_size, RUSTFLAGS -Cpanic=immediate-abort
#              -Crelocation-model=static -Cforce-unwind-tables=no. This drops std's panic
#              message and backtrace machinery (gimli, addr2line, libunwind, demangler)
#              and the static-PIE relocations.
# Measured with rustc 1.95 (goal <= 400,000 bytes; Aya's equivalent 1.20 MB, libbpf static 1.23 MB):
#   x86_64  stable 828,112  build-std 362,248     aarch64  stable 704,320  build-std 299,976
# (opt-level "s" instead of "z": x86_64 stable 889,552, build-std 423,688.)
# Peak RSS: host (x86_64, 6.18) /usr/bin/time -v about 1.1 MB either route (VmHWM 816 kB
# stable, 524 kB build-std); the build-std binaries in Debian's 6.1 VMs print VmHWM 412 kB
# (x86_64) and 360 kB (aarch64) after reading their 10 events.
# Usage: tools/minimal-loader/size.sh [x86_64|aarch64 ...]   (default: both)
# Needs rustup's rust-src and the musl targets; aarch64 links with rustup's rust-lld.
set -eu
cd "$(dirname "$0")/../.."
target_dir=${CARGO_TARGET_DIR:-target}
arches=${*:-x86_64 aarch64}
build_std_flags="-Zunstable-options -Cpanic=immediate-abort -Crelocation-model=static -Cforce-unwind-tables=no"

build() { # arch route
    triple="$1-unknown-linux-musl"
    set -- "$1" "$2" build -q -p minimal-loader --profile min-size --target "$triple"
    if [ "$1" = aarch64 ]; then
        set -- "$@" --config "target.$triple.linker=\"rust-lld\""
    fi
    arch=$1 route=$2
    shift 2
    if [ "$route" = stable ]; then
        CARGO_TARGET_DIR="$target_dir" cargo "$@"
        dir="$target_dir"
    else
        # Its own target dir: other RUSTFLAGS would rebuild the stable route's artifacts.
        CARGO_TARGET_DIR="$target_dir/size-build-std" RUSTC_BOOTSTRAP=1 \
            RUSTFLAGS="$build_std_flags" cargo "$@" \
            -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
        dir="$target_dir/size-build-std"
    fi
    bin="$dir/$triple/min-size/minimal-loader"
    printf '%-8s %-10s %8d bytes  %s\n' "$arch" "$route" "$(wc -c <"$bin")" "$bin"
}

for arch in $arches; do
    case $arch in
    x86_64 | aarch64) ;;
    *) echo "size.sh: unknown arch '$arch' (x86_64 or aarch64)" >&2; exit 2 ;;
    esac
    build "$arch" stable
    build "$arch" build-std
done
