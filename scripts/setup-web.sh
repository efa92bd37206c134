#!/usr/bin/env bash
# Install and build the web client (web/, Vite + React + TypeScript) that `voicemode serve`
# serves from web/dist. Idempotent: `npm ci` runs only when web/package-lock.json changed,
# `npm run build` only when the client's sources, lock file or build configuration did;
# each leaves a stamp named after a hash of what it depends on. Without web/package.json
# (a checkout without the client) it does nothing. Browsers are Debian's (setup.sh installs
# `chromium`): nothing here downloads one.
set -euo pipefail
cd "$(dirname "$0")/../web" 2>/dev/null || exit 0
[ -f package.json ] || exit 0
if [ ! -f package-lock.json ]; then
  echo "setup-web: web/package-lock.json is missing; run \`npm install\` in web/ once" >&2
  exit 1
fi

installed=node_modules/.voicemode-installed-$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f "$installed" ]; then
  echo "setup-web: installing the web client's Node packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  mkdir -p node_modules
  touch "$installed"
fi

inputs=()
for path in src public index.html package.json package-lock.json vite.config.* tsconfig*.json; do
  if [ -e "$path" ]; then
    inputs+=("$path")
  fi
done
sources=$(find "${inputs[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum \
  | sha256sum | cut -c1-16)
built=node_modules/.voicemode-built-$sources
if [ ! -f "$built" ] || [ ! -f dist/index.html ]; then
  echo "setup-web: building the web client (npm run build)"
  npm run build --silent
  rm -f node_modules/.voicemode-built-*
  touch "$built"
fi
