# What `cmake --install` puts where (FHS, under CMAKE_INSTALL_PREFIX), beside the rules of the
# folders that make the files (the binary: cli/; the templates: app/; the completion:
# completions/; the manual page: docs/man/), and the Debian package CPack makes of it
# (`cpack -G DEB` in the build tree). scripts/test-install.sh checks both. docs/install.md
# lists the paths.

# `cpack` (and `make install`) would otherwise first build every target, the test binaries
# too; what they install is the binary, its manual page and its completion, which the build
# has made (scripts/test-install.sh builds those three targets when it builds).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# The library runbooks, with the files beside them that they name (k8s/, production-change/).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runbooks/library/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/runbook/runbooks)
# The user documentation, in the tree's shape so that its links work; the benchmark pages
# and the developers' guide stay in the source tree.
file(GLOB user_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md ${PROJECT_SOURCE_DIR}/docs/*.png)
list(FILTER user_docs EXCLUDE REGEX "/(performance|development)\\.md$")
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${user_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)

# The .deb. Depends is computed by dpkg-shlibdeps (package dpkg-dev) from the libraries the
# binary links; what it runs rather than links is recommended or suggested.
set(RUNBOOK_PACKAGE_MAINTAINER
    "runbook maintainers <maintainers@users.noreply.b-seed-54f83e98.example>"
    CACHE STRING "the Maintainer of the Debian package")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME runbook)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${RUNBOOK_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "run deployments from YAML runbooks, with automatic rollback and an audit log")
set(CPACK_PACKAGE_DESCRIPTION
    "runbook compiles a YAML runbook (shell, SSH, kubectl and HTTP steps with their rollback)
into an explicit state machine and runs it. Every transition is written to a hash-chained
audit log (SQLite, or a team's PostgreSQL store) before it is acted on; on a failure, an
interruption or a crash it undoes what was done, in reverse order. Plans, approvals,
post-mortem reports and deployment statistics come from the same log.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # runbook_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Loaded with dlopen when first needed (engine/shared_library.h), so dpkg-shlibdeps does not
# see them: libcurl for HTTP (CURLOPT_PROTOCOLS_STR needs 7.85), libpq for the team store.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libcurl4 (>= 7.85), libpq5")
# ssh-keygen signs and checks approvals; kubectl runs kubectl steps.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "openssh-client")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "kubernetes-client, bash-completion")
include(CPack)

# scripts/test-install.sh on this build: install, package, install the package into a
# temporary root and run it there. Not in a sanitizer tree: nobody ships one, and
# scripts/test-sanitized.sh builds its unit tests only.
if(NOT RUNBOOK_SANITIZE)
  add_test(NAME install_test
           COMMAND ${PROJECT_SOURCE_DIR}/scripts/test-install.sh --no-build ${PROJECT_BINARY_DIR})
  set_tests_properties(install_test PROPERTIES TIMEOUT 180)
endif()
