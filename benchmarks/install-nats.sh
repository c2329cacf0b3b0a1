#!/usr/bin/env bash
# Installs the nats-server that mqbench's JetStream rows run, into
# $(go env GOPATH)/bin, where mqbench looks for it (besides PATH). The
# version is pinned so that reports compare with a known peer.
set -euo pipefail
version="${NATS_SERVER_VERSION:-v2.15.2}"
go install "github.com/nats-io/nats-server/v2@${version}"
bin="$(go env GOPATH)/bin/nats-server"
"$bin" --version
echo "installed $bin"
