# Shared set-up for prockit's scripts: sourced, not run.
# Installs what is missing (Debian packages only), then configures and builds a tree.

PROCKIT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROCKIT_BUILD_DEPS=(g++ cmake ninja-build pkg-config libcli11-dev libcap-dev libseccomp-dev libssl-dev nlohmann-json3-dev
                    libzstd-dev  # prun --compress
                    libgtest-dev libgmock-dev libbenchmark-dev
                    bash-completion zsh fish  # the completion tests drive bash, zsh and fish
                    parallel    # prun's side-by-side tests run GNU parallel
                    tmux less   # pjobs' full-screen test drives less under fg in a tmux pane
                    task-spooler  # pjobs_bench.sh measures tsp as a peer of pjobs run
                    postgresql)  # poomguard's real-component test runs a throw-away cluster

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# ensure_packages PKG... — installs the Debian packages that are not installed yet.
ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "prockit: missing packages; run this, then try again:" >&2
        echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build_tree DIR [cmake args...] — configures DIR once (or when the arguments change), then builds.
build_tree() {
    local dir=$1
    shift
    local stamp="$dir/.prockit-configure-args" args="$*"
    if [ ! -f "$dir/CMakeCache.txt" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$args" ]; then
        say "configuring $dir"
        cmake -S "$PROCKIT_ROOT" -B "$dir" -G Ninja "$@" >/dev/null
        printf '%s' "$args" >"$stamp"
    fi
    say "building $dir"
    cmake --build "$dir" -j "$(nproc)"
}
