# syntax=docker/dockerfile:1
# Build: docker build -t livechat-rooms .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY tests tests
COPY benches benches
COPY examples examples
RUN cargo build --release --locked --bin livechat-rooms

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home livechat
COPY --from=build /src/target/release/livechat-rooms /usr/local/bin/livechat-rooms
COPY fixtures /fixtures
USER 10001
ENV BIND_IP=0.0.0.0 PORT=3000
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/livechat-rooms"]
