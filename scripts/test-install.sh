#!/usr/bin/env bash
# Checks what `cmake --install` and the Debian package put where, and that what they put there
# works without the source tree:
#   1. `cmake --install BUILD --prefix TMP/usr`: the binary, the manual page, the bash and zsh
#      completion, the templates, the library runbooks and the documentation in their FHS
#      places (docs/install.md);
#   2. `cpack -G DEB` in BUILD, then the package installed with dpkg into an empty root;
#   3. in both trees: `runbook --version` (its version is the package's), `runbook validate`
#      on installed library runbooks, `runbook serve passwd` (which runs the installed
#      runbook-serve), `man --warnings -l` on the installed page (no warning),
#      and the installed bash completion completing `runbook va` to `validate`; then
#      `dpkg -r`, which must leave no file behind.
# Usage: scripts/test-install.sh [--no-build] [BUILD_DIR]   (BUILD_DIR: ./build)
# Without --no-build it installs the Debian packages it needs when they are missing (as
# root, with apt-get), then configures BUILD_DIR if needed and builds what is installed.
# Exits 1 with the reason on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
if [ "${1:-}" = --no-build ]; then
  build=0
  shift
fi
build_dir=$(realpath -m "${1:-build}")
start=$SECONDS

fail() {
  echo "test-install: FAIL: $*" >&2
  exit 1
}
step() { echo "test-install: $*"; }

# ---------------------------------------------------------------------------- what it needs
if [ "$build" = 1 ]; then
  scripts/setup.sh --packages-only  # scdoc, zsh, dpkg-dev, file, man-db and the libraries
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    launcher=()
    command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
  fi
  # What is installed, and no test binary.
  step "building runbook, its manual page and its completion in $build_dir"
  cmake --build "$build_dir" -j 2 --target runbook man completions >/dev/null
fi
for tool in cpack dpkg dpkg-deb dpkg-shlibdeps file man bash zsh; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/setup.sh --packages-only)"
done
[ -x "$build_dir/runbook" ] || fail "no $build_dir/runbook: build it first (or run without --no-build)"

tmp=$(mktemp -d /tmp/runbook-test-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# What runs here reads no settings file of whoever runs the test, and writes nothing in $HOME.
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config XDG_STATE_HOME=$tmp/home/.state
unset RUNBOOK_CONFIG RUNBOOK_AUDIT_DB RUNBOOK_OPERATOR
mkdir -p "$HOME"

# Files an installation under a prefix must hold (all of runbooks/library is checked apart).
expected_files=(
  bin/runbook
  libexec/runbook/runbook-serve
  share/man/man1/runbook.1.gz
  share/bash-completion/completions/runbook
  share/zsh/vendor-completions/_runbook
  share/runbook/templates/postmortem.html
  share/runbook/templates/change-request.md
  share/runbook/runbooks/wait-until-healthy.yaml
  share/runbook/runbooks/ssh-release.yaml
  share/runbook/runbooks/k8s-rolling-update.yaml
  share/runbook/runbooks/k8s/deployment.yaml
  share/runbook/runbooks/production-change/production-change.yaml
  share/runbook/runbooks/production-change/team.yaml
  share/doc/runbook/README.md
  share/doc/runbook/docs/runbook-format.md
)
check_tree() {
  local prefix=$1 what=$2 f
  for f in "${expected_files[@]}"; do
    [ -f "$prefix/$f" ] || fail "$what: $prefix/$f is missing"
  done
  [ -x "$prefix/bin/runbook" ] || fail "$what: $prefix/bin/runbook is not executable"
  # Every library runbook is installed, and nothing of the build tree is.
  local n
  n=$(cd runbooks/library && find . -type f | wc -l)
  [ "$(cd "$prefix/share/runbook/runbooks" && find . -type f | wc -l)" -eq "$n" ] ||
    fail "$what: share/runbook/runbooks does not hold the $n files of runbooks/library"
  if find "$prefix" -name '*.o' -o -name '*_tests' -o -name CMakeCache.txt | grep -q .; then
    fail "$what: build files were installed"
  fi
}

# Runs the installed tree under PREFIX ($1): its version, a library runbook, its manual page
# and its bash completion.
check_installed() {
  local prefix=$1 what=$2 out
  # --version: the package's version, the commit, the build, the libraries.
  out=$("$prefix/bin/runbook" --version) || fail "$what: runbook --version failed"
  [ "$(head -1 <<<"$out")" = "runbook $version" ] ||
    fail "$what: runbook --version says '$(head -1 <<<"$out")', the package is $version"
  grep -q '^commit ' <<<"$out" || fail "$what: runbook --version names no commit: $out"
  grep -q 'yaml-cpp .*libssh2 .*libcurl .*SQLite .*RE2 ' <<<"$out" ||
    fail "$what: runbook --version lists no libraries: $out"
  # A library runbook, from where it is installed, from another folder.
  out=$(cd "$tmp" && "$prefix/bin/runbook" validate \
          "$prefix/share/runbook/runbooks/wait-until-healthy.yaml" \
          "$prefix/share/runbook/runbooks/production-change/production-change.yaml" 2>&1) ||
    fail "$what: runbook validate on the installed library runbooks failed: $out"
  # `runbook serve` runs in runbook-serve, found where the package put it.
  out=$(printf 'password123\n' | "$prefix/bin/runbook" serve passwd tester \
          --users "$tmp/users-${what// /_}" 2>&1) ||
    fail "$what: runbook serve passwd (through the installed runbook-serve) failed: $out"
  grep -q '^tester:\$y\$' "$tmp/users-${what// /_}" ||
    fail "$what: runbook serve passwd wrote no yescrypt hash: $(cat "$tmp/users-${what// /_}")"
  # The manual page renders without a warning from man, groff or the man macros.
  out=$(MANWIDTH=80 man --warnings -l "$prefix/share/man/man1/runbook.1.gz" 2>&1 >/dev/null) ||
    fail "$what: man -l $prefix/share/man/man1/runbook.1.gz failed: $out"
  [ -z "$out" ] || fail "$what: man --warnings on the installed page: $out"
  MANWIDTH=80 man -l "$prefix/share/man/man1/runbook.1.gz" 2>/dev/null | grep -q '^ENVIRONMENT' ||
    fail "$what: the installed manual page has no ENVIRONMENT section"
  # The installed bash completion completes `runbook va` to validate, with the installed
  # binary on PATH.
  out=$(PATH=$prefix/bin:$PATH bash --norc --noprofile -c '
    source "$1" || exit 1
    COMP_WORDS=(runbook va) COMP_CWORD=1 COMP_LINE="runbook va" COMP_POINT=10
    _runbook runbook va runbook
    printf "%s\n" "${COMPREPLY[@]}"' _ "$prefix/share/bash-completion/completions/runbook") ||
    fail "$what: the installed bash completion does not load"
  [ "$out" = validate ] || fail "$what: bash completes 'runbook va' to '$out', not 'validate'"
  zsh -n "$prefix/share/zsh/vendor-completions/_runbook" ||
    fail "$what: the installed zsh completion does not parse"
}

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build_dir/CMakeCache.txt")
[ -n "$version" ] || fail "no project version in $build_dir/CMakeCache.txt"

# ------------------------------------------------------------------------ 1. cmake --install
step "cmake --install $build_dir --prefix $tmp/usr"
cmake --install "$build_dir" --prefix "$tmp/usr" >"$tmp/install.log" 2>&1 ||
  fail "cmake --install failed: $(cat "$tmp/install.log")"
check_tree "$tmp/usr" "cmake --install"
# The installed binary needs neither tree: its templates are compiled in (app/CMakeLists.txt)
# and it runs here from a folder outside both, on installed files only.
check_installed "$tmp/usr" "cmake --install"

# ------------------------------------------------------------------------------- 2. the .deb
step "cpack -G DEB in $build_dir"
package_dir=$build_dir/package
rm -rf "$package_dir"
(cd "$build_dir" && cpack -G DEB -B "$package_dir" >"$tmp/cpack.log" 2>&1) ||
  fail "cpack -G DEB failed: $(cat "$tmp/cpack.log")"
deb=$(ls "$package_dir"/runbook_"$version"_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "cpack made no runbook_${version}_*.deb in $package_dir: $(cat "$tmp/cpack.log")"
rm -rf "$package_dir/_CPack_Packages"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = runbook ] || fail "$deb: Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || fail "$deb: Version is '$(field Version)', not $version"
[ "$(field Section)" = admin ] || fail "$deb: Section is '$(field Section)'"
[ -n "$(field Maintainer)" ] || fail "$deb: no Maintainer"
depends=$(field Depends)
for lib in libc6 libstdc++6 libyaml-cpp libssh2 libcurl libsqlite3 libre2 libpq; do
  grep -q "$lib" <<<"$depends" || fail "$deb: Depends names no $lib: $depends"
done
# Every file is under /usr, the manual page gzipped.
dpkg-deb -c "$deb" | awk '{ print $6 }' | grep -v '^\./$' | grep -v '^\./usr/' &&
  fail "$deb holds files outside /usr"

# ---------------------------------------------------------------- 3. the .deb, installed
# dpkg --root installs into an empty root as `dpkg -i` installs into the machine (its
# database, its file list, its checks) without touching the machine's: --force-not-root since
# the test need not be root, --force-depends since that root holds none of the libraries (the
# binary then runs on the machine's, which Depends was computed from). The package has no
# maintainer scripts, which would otherwise run chrooted into that root.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info" "$root/var/log"
touch "$root/var/lib/dpkg/status"
step "dpkg --root $root -i $(basename "$deb")"
dpkg --root="$root" --log=/dev/null --force-not-root --force-depends -i "$deb" >"$tmp/dpkg.log" 2>&1 ||
  fail "dpkg -i into $root failed: $(cat "$tmp/dpkg.log")"
status=$(dpkg --root="$root" -s runbook 2>/dev/null | sed -n 's/^Status: //p')
[ "$status" = "install ok installed" ] || fail "dpkg --root $root -s runbook says '$status'"
check_tree "$root/usr" "the .deb"
check_installed "$root/usr" "the .deb"
# dpkg knows every file it installed, and removes them all.
dpkg --root="$root" --log=/dev/null --force-not-root --force-depends -r runbook >"$tmp/dpkg.log" 2>&1 ||
  fail "dpkg -r from $root failed: $(cat "$tmp/dpkg.log")"
left=$(find "$root" -path "$root/var" -prune -o -type f -print)
[ -z "$left" ] || fail "dpkg -r left files behind: $left"

step "ok ($((SECONDS - start)) s): $deb"
step "Depends: $depends"
