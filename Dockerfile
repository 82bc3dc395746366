# dost in a scratch image: one self-contained binary from `deno compile`, the
# glibc pieces it links against, and the CA bundle. Nothing else.
#
#   docker build -t dost .
#   docker run --rm -p 8080:8080 dost                      # auto (HTTP + SOCKS) proxy on :8080
#   docker run --rm -p 8420:8420 dost -L relay://:8420     # any dost/GOST command line
#
# The build needs network access: `deno compile` downloads the denort runtime
# (dl.deno.land) and the npm packages in deno.lock. See docs/distribution.md.
# Multi-arch: `docker buildx build --platform linux/amd64,linux/arm64 .`

ARG DENO_VERSION=2.9.6

FROM denoland/deno:${DENO_VERSION} AS build
USER root
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# ca-certificates: the bundle copied into the final image (and used by the build's downloads).
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Set by buildx from --platform; plain `docker build` leaves it empty and gets amd64.
ARG TARGETARCH
RUN case "${TARGETARCH:-amd64}" in \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      *) echo "dost: no deno compile target for architecture ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
  && deno task compile "$target" \
  && install -D -m 0755 "dist/dost-$target" /rootfs/dost
# The compiled binary links the same libraries as deno itself (libc, libm, libgcc_s, libdl, librt,
# libpthread and the loader); copy each one ldd names, at the same path, symlinks resolved.
RUN ldd /rootfs/dost \
  | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' \
  | sort -u \
  | xargs -r -I{} cp --parents -L {} /rootfs/ \
  && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt \
  && printf 'root:x:0:0:root:/:/dost\nnobody:x:65534:65534:nobody:/:/dost\n' > /rootfs/etc/passwd \
  && printf 'root:x:0:\nnogroup:x:65534:\n' > /rootfs/etc/group \
  && install -d -m 1777 /rootfs/tmp \
  && /rootfs/dost -V

FROM scratch
COPY --from=build /rootfs/ /
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/dost"]
# Inside a container listen on all interfaces (":8080"), or a published port reaches nothing;
# the README's examples use 127.0.0.1 because on a host that is the safe default.
CMD ["-L", "auto://:8080"]
