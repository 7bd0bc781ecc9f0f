# syntax=docker/dockerfile:1
#
# One image for the whole pipeline: every service binary, ordersctl and the load generator.
# Which program a container runs is its command (compose `command:`, the Helm chart's `args`):
#
#   docker build -t orders-pipeline:dev .
#   docker run --rm orders-pipeline:dev orders-ingress --help
#
# Needs BuildKit (the default builder since Docker 23): the cargo registry and target directory
# live in cache mounts, so a rebuild after a source change recompiles only the changed crates
# instead of the whole dependency tree. Nothing from those caches reaches the final image.
#
# Build inputs: librdkafka is compiled from the copy bundled in rdkafka-sys (configure + make, so
# gcc, g++, make and zlib1g-dev, all in the rust:*-bookworm image; no cmake), and protoc comes from
# protoc-bin-vendored (no protobuf-compiler package). librdkafka links the system OpenSSL
# (libssl-dev in the builder; libssl3 comes with ca-certificates in the runtime stage) for TLS and
# SASL SCRAM to the brokers; TLS to AI providers is rustls with the system's CA bundle; PostgreSQL
# is reached without TLS (docs/deploy.md, Security).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# The cargo registry and the target directory are cache mounts: a rebuild downloads nothing new
# and recompiles only what changed. The binaries are copied out of the target cache into
# /src/target/release, which is part of this stage's filesystem and what the runtime stage copies
# from. Keep the -p list and the COPY list below in step: scripts/check-deploy.sh checks both
# against the workspace.
RUN --mount=type=cache,id=orders-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=orders-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=orders-cargo-target,target=/cache/target,sharing=locked \
    CARGO_TARGET_DIR=/cache/target cargo build --release --locked \
        -p orders-ingress \
        -p orders-projector \
        -p orders-enricher \
        -p orders-risk \
        -p orders-router \
        -p orders-loadgen \
        -p ordersctl \
 && mkdir -p /src/target/release \
 && find /cache/target/release -maxdepth 1 -type f -perm -u+x -exec cp {} /src/target/release/ \;

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: the CA bundle for TLS to the AI providers and brokers (it pulls in openssl and
# libssl3, which librdkafka links).
# curl: the compose health checks (`curl -fsS http://127.0.0.1:9100/readyz`); Kubernetes probes
# do not need it. zlib1g (librdkafka) and libgcc-s1 are already part of the slim base.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 orders \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin orders

COPY --from=builder /src/target/release/orders-ingress /usr/local/bin/
COPY --from=builder /src/target/release/orders-projector /usr/local/bin/
COPY --from=builder /src/target/release/orders-enricher /usr/local/bin/
COPY --from=builder /src/target/release/orders-risk /usr/local/bin/
COPY --from=builder /src/target/release/orders-router /usr/local/bin/
COPY --from=builder /src/target/release/orders-loadgen /usr/local/bin/
COPY --from=builder /src/target/release/ordersctl /usr/local/bin/

# Fail the build, not the first container, when a binary needs a shared library the slim base
# lacks (e.g. if librdkafka's configure picked up an optional library in the builder).
RUN if ldd /usr/local/bin/orders-* /usr/local/bin/ordersctl | grep 'not found'; then \
        echo 'a binary needs a shared library that is not in the runtime image' >&2; exit 1; \
    fi

# The catalogue, risk rules and hubs are compiled into the binaries; a deployment overrides them
# with ORDERS_CATALOGUE, ORDERS_RISK_CONFIG and ORDERS_HUBS_CONFIG pointing at mounted files.
# ORDERS_GRPC_ADDR is not set here: the ingress listens on it and orders-loadgen connects to it,
# so each container sets it (0.0.0.0:50051 for the ingress, ingress:50051 for the load generator).
ENV ORDERS_LOG_FORMAT=json \
    ORDERS_HTTP_ADDR=0.0.0.0:9100

# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /
# 50051: gRPC (ingress only); 9100: /healthz, /readyz, /metrics (every service).
EXPOSE 50051 9100
# No ENTRYPOINT: the command names the program. The binaries handle SIGTERM themselves (drain,
# store offsets; a second signal exits at once), so no init process is needed as PID 1.
CMD ["orders-ingress"]
