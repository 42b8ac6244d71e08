# syntax=docker/dockerfile:1.7
# Multi-stage build: cargo-chef caches the dependency build in its own layer, so a code
# change rebuilds only the crate. The runtime image holds the binary and config/ only.
ARG RUST_VERSION=1.95

FROM lukemathwalker/cargo-chef:latest-rust-${RUST_VERSION}-slim-bookworm AS chef
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin switchboard
COPY . .
RUN cargo build --release --locked --bin switchboard \
 && strip target/release/switchboard

# glibc and libgcc, no shell, no package manager; runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG VERSION=0.2.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="switchboard" \
      org.opencontainers.image.description="Omnichannel conversation router: one conversation per customer, routed to their personal agent" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
COPY --from=builder --chown=65532:65532 /app/target/release/switchboard /app/switchboard
COPY --chown=65532:65532 config /app/config
USER 65532:65532
ENV SWITCHBOARD_LOG__FORMAT=json
# API, then ops (/metrics, /healthz, /readyz).
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/switchboard"]
