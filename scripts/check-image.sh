#!/usr/bin/env bash
# Builds the firn-agent runtime image offline and checks it.
#
#   scripts/check-image.sh
#
# Needs: cargo, buildah (Debian: apt-get install buildah), file, root (buildah's vfs storage
# and chroot isolation). No Docker engine, no registry, no network beyond what cargo needs.
#
# 1. builds the static binary on the host exactly as the Dockerfile's builder stage does;
# 2. makes a throwaway "tools" image from the host's /bin/sh, mkdir and chmod, because the
#    Dockerfile's rootfs stage needs a shell and no base image can be pulled here;
# 3. builds the Dockerfile's `runtime` target with BINARY_FROM=prebuilt and
#    TOOLS_FROM=<tools image>, so the runtime and rootfs stages checked are the Dockerfile's
#    own lines, not a copy;
# 4. runs `/firn-agent --version` and `--help` inside the image as its configured user,
#    checks that user is 10001:10001 with matching /etc/passwd and /etc/group entries, and
#    that the entrypoint is /usr/local/bin/firn-agent and `firn-agent` is on PATH; prints the image size;
# 5. removes the containers, images and temporary files it made.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=x86_64-unknown-linux-gnu
bin="$repo/target/$target/release/firn-agent"
tag=localhost/firn-agent:check
tools=localhost/firn-check-tools:latest
want_user=10001:10001

bah() { buildah --storage-driver vfs "$@"; }
fail() { echo "check-image: FAIL: $*" >&2; exit 1; }

command -v buildah >/dev/null || fail "buildah not found (apt-get install buildah)"

work=$(mktemp -d)
ctr=""
# buildah 1.28 keeps the intermediate stage's image and container after `bud`, so cleanup
# removes every container and image that was not there before, not only the ones named here.
bah containers -q >"$work/containers.before"
bah images -q -a --no-trunc >"$work/images.before"
cleanup() {
    [ -n "$ctr" ] && bah rm "$ctr" >/dev/null 2>&1 || true
    bah rmi -f "$tag" "$tools" >/dev/null 2>&1 || true
    for c in $(bah containers -q | grep -vxF -f "$work/containers.before"); do
        bah rm "$c" >/dev/null 2>&1 || true
    done
    for i in $(bah images -q -a --no-trunc | grep -vxF -f "$work/images.before"); do
        bah rmi -f "$i" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== static binary"
(cd "$repo" && RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target "$target" -p firn-agent)
file "$bin"
file "$bin" | grep -Eq 'statically linked|static-pie linked' || fail "$bin is not statically linked"
if ldd "$bin" >/dev/null 2>&1 && ! ldd "$bin" 2>&1 | grep -q 'statically linked'; then
    ldd "$bin" >&2
    fail "$bin needs shared libraries"
fi
echo "binary: $(du -h "$bin" | cut -f1)"

echo "== tools image (host /bin/sh, mkdir, chmod; only for the rootfs stage)"
c=$(bah from scratch)
ctr=$c
m=$(bah mount "$c")
for tool in /bin/sh /bin/mkdir /bin/chmod; do
    real=$(readlink -f "$tool")
    install -D -m 0755 "$real" "$m$tool"
    for lib in $(ldd "$real" | grep -o '/[^ ]*'); do
        install -D -m 0755 "$(readlink -f "$lib")" "$m$lib"
    done
done
bah umount "$c" >/dev/null
bah commit -q "$c" "$tools" >/dev/null
bah rm "$c" >/dev/null
ctr=""

echo "== runtime image from the Dockerfile (target runtime, BINARY_FROM=prebuilt)"
cp "$bin" "$work/firn-agent"
bah bud --isolation chroot --platform linux/amd64 --pull=false --layers=false -q \
    -f "$repo/Dockerfile" --target runtime \
    --build-arg BINARY_FROM=prebuilt --build-arg TOOLS_FROM="$tools" \
    -t "$tag" "$work" >/dev/null

user=$(bah inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")
entrypoint=$(bah inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$tag")
arch=$(bah inspect --type image --format '{{.OCIv1.Architecture}}' "$tag")
echo "user: $user  entrypoint: $entrypoint  arch: $arch"
[ "$user" = "$want_user" ] || fail "image user is '$user', want $want_user"
[ "$entrypoint" = '[/usr/local/bin/firn-agent]' ] || fail "entrypoint is $entrypoint, want [/usr/local/bin/firn-agent]"
[ "$arch" = amd64 ] || fail "architecture is $arch, want amd64"

ctr=$(bah from -q "$tag")
m=$(bah mount "$ctr")
echo "files:"
(cd "$m" && find . -mindepth 1 -printf '  %M %U:%G %8s %p\n' | sort -k5)
grep -qx 'firn:x:10001:10001:firn-agent:/nonexistent:/sbin/nologin' "$m/etc/passwd" \
    || fail "/etc/passwd has no firn entry for 10001"
grep -qx 'firn:x:10001:' "$m/etc/group" || fail "/etc/group has no firn entry for 10001"
bah umount "$ctr" >/dev/null

# `buildah run` uses the image's USER, so this also shows the binary runs as 10001 in a
# file system holding nothing but itself.
echo "== /firn-agent --version (as the image user)"
version=$(bah run --isolation chroot "$ctr" -- firn-agent --version)
echo "$version"
case "$version" in firn-agent\ *) ;; *) fail "unexpected --version output: $version" ;; esac
echo "== /firn-agent --help (first lines)"
help=$(bah run --isolation chroot "$ctr" -- firn-agent --help)
printf '%s\n' "$help" | head -n 12
printf '%s\n' "$help" | grep -q -- '--output' || fail "--help does not mention --output"

# A real run in the image: /tmp is writable for the image user, / is not, which shows the
# process is not root (scratch has no `id` to ask).
echo "== /firn-agent --once --input /etc/passwd --output /tmp/out"
bah run --isolation chroot "$ctr" -- firn-agent -q --once --input /etc/passwd --output /tmp/out
# The agent retries the refused write until its 25 s close deadline, hence the wait.
echo "== /firn-agent --once --output /out (must fail: / belongs to root; takes ~25 s)"
if bah run --isolation chroot "$ctr" -- firn-agent -q --once --input /etc/passwd --output /out \
    2>"$work/denied.txt"; then
    fail "the image user could write to /: is it running as root?"
fi
grep -i 'denied' "$work/denied.txt" | head -n 2 || { cat "$work/denied.txt" >&2; fail "failed for another reason than permissions"; }

echo "== size"
bah images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$tag"
echo "check-image: OK"
