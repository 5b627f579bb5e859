#!/usr/bin/env bash
# Installs the Debian packages runbook needs when they are missing (we run as root), then
# configures and builds into ./build. Safe to run again: it installs nothing twice.
# --packages-only: install the packages, build nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config git python3 openssl
  libyaml-cpp-dev libsqlite3-dev sqlite3 libssl-dev nettle-dev
  libssh2-1-dev libspdlog-dev libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev
  libcpp-httplib-dev libkainjow-mustache-dev libre2-dev libgtest-dev libgmock-dev openssh-server
  openssh-client curl
  # The PostgreSQL store (audit/pg_store.h): libpq, and the server its tests start.
  libpq-dev postgresql
  # tests/report_browser_test.cc renders the post-mortem report in headless Chromium; a font
  # so that its screenshot shows text. tests/serve_browser_test.py drives `runbook serve` in
  # it through chromedriver and Selenium.
  chromium fonts-dejavu-core chromium-driver python3-selenium
  # The manual page is made with scdoc; completions/completion_test.sh completes in zsh;
  # scripts/test-install.sh packages with CPack (dpkg-shlibdeps, file) and reads the page
  # with man.
  scdoc zsh dpkg-dev file man-db
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "setup: kubectl not found; installing Debian's kubernetes-client"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null || true
fi

[ "${1:-}" = --packages-only ] && exit 0
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} >/dev/null
cmake --build build -j "$jobs"
