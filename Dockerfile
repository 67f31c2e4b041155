# faqbot in a container: built on Debian bookworm, run as a non-root user
# with nothing but the binary, its libraries, CA certificates and the
# shipped FAQ. See README.md, "Deployment", for the volumes and a run line.
#
#   podman build --format docker -t faqbot .    (docker build -t faqbot .)
#
# --format docker for podman: the OCI image format has no HEALTHCHECK, and
# podman drops it with a warning. Stage names are lower-case: buildah
# matches them case-sensitively.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      gcc libc6-dev make pkg-config binutils \
      libpcre2-dev libjansson-dev libcurl4-openssl-dev libyaml-dev \
      libutf8proc-dev libinih-dev libicu-dev liblinear-dev libvectorscan-dev \
      libmicrohttpd-dev libolm-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# PREFIX=/usr: the binary looks for its FAQ in /usr/share/faqbot/faq (a
# compile-time default). install checks the shipped FAQ (a FAQ that fails
# its check fails the build) and builds its learned stage and prefilter
# into /usr/share/faqbot/cache, so the container's first start answers at
# once instead of training for seconds.
RUN make -j"$(nproc)" PREFIX=/usr faqbot \
 && make install PREFIX=/usr DESTDIR=/out \
 && strip /out/usr/bin/faqbot

FROM debian:bookworm-slim AS runtime
# libcurl4 although ldd does not list it: faqbot dlopens libcurl.so.4 at
# the first network use (src/lib/curl_dl.c). liblinear4 likewise, when the
# learned stage is to be trained (src/core/learn.c). libvectorscan5 likewise
# (src/lib/hs_dl.c): the prefilter, without which every pattern is tried.
# libmicrohttpd12 likewise (src/lib/mhd_dl.c), for the [metrics] endpoint.
# libolm3 likewise (src/lib/olm_dl.c), for [matrix] encryption = true.
# ICU is needed to build only (tools/gen_confusables.c).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libinih1 libjansson4 libpcre2-8-0 \
      libutf8proc2 libyaml-0-2 liblinear4 libvectorscan5 libmicrohttpd12 libolm3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 faqbot \
 && useradd --no-log-init --uid 10001 --gid faqbot --home-dir /var/lib/faqbot \
      --no-create-home --shell /usr/sbin/nologin faqbot \
 && install -d -m 0700 -o faqbot -g faqbot /var/lib/faqbot \
 && install -d -m 0755 /etc/faqbot
COPY --from=build /out/usr/bin/faqbot /usr/bin/faqbot
COPY --from=build /out/usr/share/faqbot /usr/share/faqbot
COPY --from=build /out/etc/faqbot/faqbot.ini.example /etc/faqbot/

# Numeric, so that a runtime can tell it is not root without /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/faqbot
# The state (session token, sync position, health mark): keep it across
# upgrades, or every restart logs in again and answers nothing missed. The
# config (/etc/faqbot/faqbot.ini), the secret and a moderators' FAQ
# (FAQBOT_FAQ_DIR) are bind-mounted read-only: see README.md.
VOLUME ["/var/lib/faqbot"]

# faqbot is PID 1 (exec form, no shell): it gets SIGTERM itself and stops
# within two seconds, after the reply in flight.
STOPSIGNAL SIGTERM
# Unhealthy when no sync completed for 2 x sync_timeout + 30 s (90 s by
# default); the start period covers login and the first sync.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
  CMD ["faqbot", "health", "--config", "/etc/faqbot/faqbot.ini"]
ENTRYPOINT ["faqbot"]
CMD ["run", "--config", "/etc/faqbot/faqbot.ini"]
