#!/usr/bin/env bash
# Installs the Debian packages damon-prof needs to build and test, and only those that are
# missing. Debian 12 (bookworm); run as root (or with sudo available). Nothing is downloaded from
# anywhere but Debian's archive.
#
#   scripts/install-deps.sh           build + test dependencies
#   scripts/install-deps.sh --test    also what the tests drive (headless Chromium for the HTML
#                                     report, through ChromeDriver from python3, valgrind's DHAT
#                                     for the accuracy test) and clang with libFuzzer for the fuzz
#                                     targets
#   scripts/install-deps.sh --bench   also what the benchmarks run and compare against (heaptrack,
#                                     valgrind's DHAT, python3, sqlite3, redis)
#   scripts/install-deps.sh --compat  also every program of the compatibility suite (tests/compat)
#   scripts/install-deps.sh --accuracy  also what `make accuracy` runs (valgrind's DHAT, python3,
#                                     sqlite3)
set -euo pipefail

packages=(
  cmake make g++ pkg-config
  libunwind-dev libzstd-dev libdw-dev libelf-dev libcapstone-dev libpng-dev zlib1g-dev
  libdeflate-dev
  libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev nlohmann-json3-dev
  zstd binutils
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium chromium-driver python3 clang libclang-rt-14-dev)
  # The short run of `make accuracy` against valgrind's DHAT.
  packages+=(valgrind)
  # The compatibility suite's quick cases (tests/compat/run.sh --fast).
  packages+=(sqlite3 xz-utils git perl gzip)
fi
if [[ "${1:-}" == "--compat" ]]; then
  packages+=(python3 sqlite3 xz-utils git perl gzip make gcc redis-server redis-tools)
fi
if [[ "${1:-}" == "--accuracy" ]]; then
  packages+=(valgrind python3 sqlite3)
fi
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(heaptrack valgrind python3 sqlite3 redis-server redis-tools)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    sudo_cmd=(sudo)
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; install them as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
