# Multi-stage build: compile on Debian 12 with the same script as the README's quick start
# (scripts/build.sh), run on a slim Debian 12 with only the runtime libraries and CA
# certificates, as a non-root user. Proven without a Docker engine by packaging/docker-proof.sh,
# which executes these instructions in debootstrapped Debian 12 roots: keep to the instructions
# it understands (FROM, WORKDIR, COPY [--from], RUN, USER, ENV, EXPOSE, ENTRYPOINT, CMD, LABEL).
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN bash scripts/build.sh --build-dir=build --build-type=Release \
 && strip build/mxtls_exporter

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 libc-ares2 libidn2-0 \
      libcpp-httplib0.11 libyaml-cpp0.7 libprometheus-cpp-core1.0 libcrypt1 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin mxtls
COPY --from=build /src/build/mxtls_exporter /usr/bin/mxtls_exporter
COPY config/examples/mxtls_exporter.yml /etc/mxtls_exporter/config.yml
USER mxtls
EXPOSE 10465
ENTRYPOINT ["/usr/bin/mxtls_exporter"]
CMD ["--config.file=/etc/mxtls_exporter/config.yml"]
