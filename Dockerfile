# kvd container image: build on Debian 12 with the same packages as scripts/ops/install-deps.sh, then
# copy the binary into a slim Debian 12 runtime with only its shared libraries, running as non-root.
#
#   docker build -t kvd .
#   docker run --rm -p 8081:8081 kvd
#   docker run --rm -p 8081:8081 -e KVD_MAX_MEMORY=512M kvd --ttl=1m   # KVD_* variables or flags

# ---- build ----
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
# The apt lists are kept in this stage: third_party/fetch-llhttp.sh runs `apt-get download
# node-llhttp` to get llhttp's C sources without pulling in Node.js.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ make pkg-config libfmt-dev libabsl-dev doctest-dev ca-certificates
WORKDIR /src
# Only what the build needs (never a host build/ directory or host binaries).
COPY Makefile ./
COPY scripts/ scripts/
COPY third_party/ third_party/
COPY src/ src/
RUN make -j"$(nproc)" kvd && strip --strip-debug kvd && ./kvd --version

# ---- runtime ----
FROM debian:12-slim
ARG DEBIAN_FRONTEND=noninteractive
# kvd's shared libraries: fmt and Abseil (libstdc++ and libgcc are in the base image).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libfmt9 libabsl20220623 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kvd
COPY --from=build /src/kvd /usr/local/bin/kvd
USER kvd
# Settings come from KVD_* variables (every flag has one); flags after the image name win over them.
ENV KVD_PORT=8081 KVD_BIND=0.0.0.0
EXPOSE 8081
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/kvd"]
