# syntax=docker/dockerfile:1
# Build: a full Rust toolchain with libpq's headers.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
# (Cargo.toml names the benchmark, so a stand-in for it must exist for the manifest to load.)
RUN mkdir -p src benches/load && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/load/main.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
COPY migrations ./migrations
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin clickcollect

# Run: Debian slim with libpq, as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 clickcollect \
    && useradd --system --uid 10001 --gid clickcollect --home-dir /data --shell /usr/sbin/nologin clickcollect \
    && mkdir -p /data && chown clickcollect:clickcollect /data
COPY --from=build /src/target/release/clickcollect /usr/local/bin/clickcollect
USER clickcollect
WORKDIR /data
ENV BIND_ADDR=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/clickcollect.db \
    LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["clickcollect", "healthcheck"]
ENTRYPOINT ["clickcollect"]
CMD ["serve"]
