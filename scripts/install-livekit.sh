#!/usr/bin/env bash
# Install the LiveKit server the tests and `livekit.yaml` are written for, as
# .tools/bin/livekit-server (repository-local, gitignored). Idempotent: when
# the right version is already there it does nothing.
#
# LiveKit publishes the server as a Go module whose command is called
# `server`; it is installed with the Go toolchain and renamed so that nobody
# has to guess what `.tools/bin/server` is. Go >= 1.21 is enough: the module
# asks for a newer toolchain and `go` fetches it itself (GOTOOLCHAIN=auto).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="1.13.5"
BIN_DIR="$PWD/.tools/bin"
TARGET="$BIN_DIR/livekit-server"

if [ -x "$TARGET" ] && "$TARGET" --version 2>/dev/null | grep -qx "livekit-server version $VERSION"; then
  exit 0
fi

GO="$(command -v go || true)"
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then
  GO=/usr/local/go/bin/go
fi
go_minor=""
if [ -n "$GO" ]; then
  go_minor="$("$GO" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p' || true)"
fi
if [ -z "$go_minor" ] || [ "$go_minor" -lt 21 ]; then
  echo "install-livekit: Go >= 1.21 is needed to build livekit-server $VERSION" \
    "(found: ${GO:-none}${go_minor:+, go1.$go_minor});" >&2
  echo "install-livekit: get it from https://go.dev/dl/ (or your distribution) and rerun." >&2
  exit 1
fi

echo "install-livekit: building livekit-server $VERSION into $BIN_DIR"
mkdir -p "$BIN_DIR"
GOBIN="$BIN_DIR" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" \
  "$GO" install "github.com/livekit/livekit-server/cmd/server@v$VERSION"
mv -f "$BIN_DIR/server" "$TARGET"
"$TARGET" --version
