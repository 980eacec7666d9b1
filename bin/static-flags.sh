# Sourced by bin/install and bin/build-release: how to build git-okstra so that it starts
# fast. Every hook and agent-guard call starts the binary, and a statically linked,
# fixed-address build starts in about three quarters of the time of the default dynamically
# linked position-independent one (README, Performance): the dynamic loader has nothing to
# load or relocate. Where the static C library is missing (musl, macOS, a glibc without its
# libc.a) the default build is made, with a note.
#
# Sets okstra_target (the host's target triple, or empty for the default build) and
# okstra_rustflags (RUSTFLAGS for that build). The target is named so that the flags apply to
# the binary only, not to build scripts and proc macros, which must stay dynamic.
okstra_build_setup() {
    okstra_target=""
    okstra_rustflags=${RUSTFLAGS:-}
    okstra_host=$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')
    case "$okstra_host" in
        *-linux-gnu*) ;;
        *) return 0 ;;
    esac
    okstra_libc=$(${CC:-cc} -print-file-name=libc.a 2>/dev/null) || okstra_libc=""
    case "$okstra_libc" in
        /*) [ -f "$okstra_libc" ] || okstra_libc="" ;;
        *) okstra_libc="" ;;
    esac
    if [ -z "$okstra_libc" ]; then
        echo "note: no static C library (libc.a) for ${CC:-cc}: building a dynamically linked git-okstra, which starts slower in every hook" >&2
        return 0
    fi
    okstra_target=$okstra_host
    okstra_rustflags="${okstra_rustflags:+$okstra_rustflags }-C target-feature=+crt-static -C relocation-model=static"
}
