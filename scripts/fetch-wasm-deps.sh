#!/usr/bin/env bash
# Fetches the C sources that the WebAssembly build compiles itself, from
# Debian's source packages (apt verifies them against the signed index).
# Debian ships no WebAssembly libraries; natively we link the -dev packages.
# Output: build-deps/speexdsp (gitignored). Safe to re-run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/build-deps"
[ -f "$dest/speexdsp/libspeexdsp/resample.c" ] && exit 0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A private source list and state dir: the system's apt configuration is untouched.
cat >"$work/sources.list" <<'LIST'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
LIST
mkdir -p "$work/lists/partial"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$work/lists" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update -qq
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only -qq speexdsp)
mkdir -p "$dest"
tar -xzf "$work"/speexdsp_*.orig.tar.gz -C "$work"
rm -rf "$dest/speexdsp"
mv "$work"/speexdsp-*/ "$dest/speexdsp"
echo "speexdsp source in $dest/speexdsp"
