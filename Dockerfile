# syntax=docker/dockerfile:1
# The service's image: a release build on Debian 12 (bookworm), then only the binary and the
# fixtures on bookworm-slim, as a non-root user. TLS to MongoDB needs nothing from the runtime
# image: the driver (rustls) carries the Mozilla roots (webpki-roots), which Atlas and public CAs
# need; a private CA is mounted as a file and named by MONGO_URL's `tlsCAFile=`.
#
#   docker build -t livechat-rooms .
#
# scripts/image builds this same file offline with Debian's podman/buildah (CI runs it) and runs
# the container the way the Helm chart does.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# CI builds offline from the host's crate cache (scripts/image); a registry build fetches.
ARG CARGO_NET_OFFLINE=false
# Dependencies first, in a layer of their own that changes only with Cargo.toml and Cargo.lock.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests/api \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && echo 'fn main() {}' > benches/render.rs && touch tests/api/main.rs \
 && cargo build --release --locked --bin livechat-rooms \
 && rm -rf src benches tests
COPY src src
COPY benches benches
COPY tests tests
COPY examples examples
# The sources are newer than the placeholder build: only the crate itself is compiled again.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin livechat-rooms \
 && strip target/release/livechat-rooms

FROM debian:bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="livechat-rooms" \
      org.opencontainers.image.description="Rocket.Chat's GET /api/v1/livechat/rooms answered from its MongoDB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="debian:bookworm-slim"
# uid and gid 10001, as the Helm chart runs it (runAsUser/runAsGroup).
RUN groupadd --system --gid 10001 livechat \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin livechat
COPY --from=build /src/target/release/livechat-rooms /usr/local/bin/livechat-rooms
COPY fixtures /fixtures
USER 10001:10001
ENV BIND_IP=0.0.0.0 PORT=3000
EXPOSE 3000
# Writes nothing: runs with a read-only root file system.
ENTRYPOINT ["/usr/local/bin/livechat-rooms"]
