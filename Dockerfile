# Wafer's release binary on Debian 12, with the default model fetched at build time.
#   docker build -t wafer .      (docker-compose.yml builds and runs it behind nginx)
FROM swift:6.1-bookworm AS build
WORKDIR /src
COPY scripts/setup scripts/fetch-model scripts/
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip \
    && scripts/setup && scripts/fetch-model
COPY Package.swift ./
COPY Sources Sources
# The Swift runtime linked in, so the image below needs only the C libraries.
RUN swift build -c release --product wafer --static-swift-stdlib

FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        libopenblas0 libmicrohttpd12 libsqlite3-0 libpq5 libcurl4 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /wafer
COPY --from=build /src/.build/release/wafer /usr/local/bin/wafer
COPY --from=build /src/models models
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["wafer", "serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/wafer/data"]
