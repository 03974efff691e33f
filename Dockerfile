# Container images of Volley's server processes, one target each:
#
#   docker build --target lobby      -t volley-lobby .       # lobby/cmd/lobby (rooms, signaling, optional TURN)
#   docker build --target host       -t volley-arena-host .  # examples/arena/cmd/host (the arena's dedicated host)
#   docker build --target turnserver -t volley-turn .        # turnserver/cmd/turnserver (a TURN relay on its own)
#
# Static binaries (CGO_ENABLED=0) on distroless "static" as its nonroot user (UID
# 65532): no shell, no package manager, a few MB besides the binary. deploy/README.md
# tells how this file is checked without a Docker engine.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# go.mod replaces github.com/pion/sctp with this directory (see its PATCHED.md).
COPY third_party/ third_party/
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/ ./lobby/cmd/lobby ./examples/arena/cmd/host ./turnserver/cmd/turnserver

FROM gcr.io/distroless/static-debian12:nonroot AS lobby
COPY --from=build /out/lobby /usr/local/bin/lobby
USER nonroot:nonroot
EXPOSE 8089/tcp 3478/udp 3478/tcp
ENTRYPOINT ["/usr/local/bin/lobby", "-addr", ":8089"]

FROM gcr.io/distroless/static-debian12:nonroot AS turnserver
COPY --from=build /out/turnserver /usr/local/bin/turnserver
USER nonroot:nonroot
EXPOSE 3478/udp 3478/tcp 9478/tcp
ENTRYPOINT ["/usr/local/bin/turnserver"]

FROM gcr.io/distroless/static-debian12:nonroot AS host
COPY --from=build /out/host /usr/local/bin/arena-host
USER nonroot:nonroot
EXPOSE 7000/udp 9090/tcp
ENTRYPOINT ["/usr/local/bin/arena-host"]
