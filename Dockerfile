# Multi-stage build: compile on Debian 12 with the project's own install script, run on a
# slim Debian 12 with only the runtime libraries and CA certificates, as a non-root user.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN bash scripts/install-deps.sh \
 && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMXTLS_BUILD_TESTS=OFF \
 && cmake --build build -j"$(nproc)" --target mxtls_exporter \
 && strip build/mxtls_exporter

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 libc-ares2 libidn2-0 \
      libcpp-httplib0.11 libyaml-cpp0.7 libprometheus-cpp-core1.0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin mxtls
COPY --from=build /src/build/mxtls_exporter /usr/bin/mxtls_exporter
COPY config/examples/mxtls_exporter.yml /etc/mxtls_exporter/config.yml
USER mxtls
EXPOSE 10465
ENTRYPOINT ["/usr/bin/mxtls_exporter"]
CMD ["--config.file=/etc/mxtls_exporter/config.yml"]
