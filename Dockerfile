# syntax=docker/dockerfile:1
#
# firn-agent image for Snowpark Container Services (linux/amd64 only, as SPCS runs).
#
#   docker build --platform linux/amd64 -t firn-agent .
#
# The result is a static binary on `scratch`, running as uid/gid 10001:10001 (user `firn`).
# Stage volumes are mounted for that user only when the spec says so (SPCS.md §7):
#
#   volumes:
#   - name: firn-output
#     source: stage
#     stageConfig:
#       name: "@my_stage"
#     uid: 10001
#     gid: 10001
#
# scripts/check-image.sh builds the `runtime` stage offline (no registry, no Docker engine)
# from a binary built on the host, with BINARY_FROM=prebuilt and TOOLS_FROM=<local image>,
# so the lines below are what it checks.

# Where the binary comes from: `builder` (compile here) or `prebuilt` (a build context that
# holds just `firn-agent`, as scripts/check-image.sh gives).
ARG BINARY_FROM=builder
# An image with /bin/sh, mkdir and chmod, to lay out the runtime file system.
ARG TOOLS_FROM=builder

FROM --platform=linux/amd64 rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target/ between builds, so an edit rebuilds the workspace
# crates only; the binary is copied out because target/ is not part of the image.
# +crt-static links glibc statically (glibc >= 2.34 has the `files` and `dns` NSS modules
# built in, so a static binary can still resolve host names without shared NSS libraries).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git/db,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu -p firn-agent \
 && install -D -m 0755 target/x86_64-unknown-linux-gnu/release/firn-agent /out/firn-agent

FROM scratch AS prebuilt
COPY firn-agent /out/firn-agent

FROM ${BINARY_FROM} AS binary

FROM ${TOOLS_FROM} AS rootfs
COPY --from=binary /out/firn-agent /rootfs/usr/local/bin/firn-agent
# /tmp for anything that wants a scratch file; no home directory (the agent keeps no state
# outside its output folder). Both files name uid/gid 10001 so tools and logs show `firn`.
RUN set -eu; \
    mkdir -p /rootfs/etc /rootfs/tmp; \
    chmod 1777 /rootfs/tmp; \
    echo 'firn:x:10001:10001:firn-agent:/nonexistent:/sbin/nologin' > /rootfs/etc/passwd; \
    echo 'firn:x:10001:' > /rootfs/etc/group
# No CA certificates: the agent makes no TLS connections yet. When it pushes OTLP over HTTPS,
# add: COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/

FROM --platform=linux/amd64 scratch AS runtime
COPY --from=rootfs /rootfs/ /
# On PATH, because a spec's `command: [firn-agent]` replaces the entrypoint (as
# `firn-agent spec inject` writes it).
ENV PATH=/usr/local/bin
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/firn-agent"]
