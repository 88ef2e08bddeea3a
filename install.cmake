# What `cmake --install` puts besides the programs (their rules sit with their targets:
# cmcld/CMakeLists.txt, cmcld/guard/CMakeLists.txt, pkgctl/CMakeLists.txt):
#   lib/cmcl/drivers/          the guest drivers (INTERFACE.md's default driver_dir is
#                              /usr/lib/cmcl/drivers, hence lib/ and not the multiarch libdir)
#   share/cmcl/examples/       the example clusters and packages, laid out as in the source
#                              tree so their relative paths hold; never a *.key file
#   lib/systemd/system/        cmcld.service, made at install time from systemd/ with the
#                              real sbin folder; cmcld.default goes with the examples
#   share/man/man8, man5       the man pages of docs/man (component docs)
#   share/bash-completion/completions/pkgctl
#                              pkgctl's bash completion, tools/completion/pkgctl.bash
#                              (component docs; bash-completion loads it by that name)
# Everything honours --prefix and DESTDIR.
include(GNUInstallDirs)

install(PROGRAMS packages/drivers/process packages/drivers/libvirt DESTINATION lib/cmcl/drivers)
install(FILES packages/drivers/README.md DESTINATION lib/cmcl/drivers)

set(CMCL_EXAMPLES ${CMAKE_INSTALL_DATADIR}/cmcl/examples)
# The cluster keys are secrets made per site (tools/demo.sh makes the demo's): never ship one.
install(DIRECTORY config/demo config/hpvm DESTINATION ${CMCL_EXAMPLES}/config
        USE_SOURCE_PERMISSIONS PATTERN "*.key" EXCLUDE)
install(DIRECTORY packages/guest1 packages/guest2 packages/guest3 packages/hpvm1
        DESTINATION ${CMCL_EXAMPLES}/packages USE_SOURCE_PERMISSIONS PATTERN "*.key" EXCLUDE)
install(FILES systemd/cmcld.default DESTINATION ${CMCL_EXAMPLES})

# The manual and the completion, in a component of their own so that
# `cmake --install BUILD --component docs` installs them without the programs being built
# (tests/docs/install_docs_test.sh); a plain `cmake --install` installs every component.
install(FILES docs/man/cmcld.8 docs/man/cmcl-guard.8 docs/man/pkgctl.8
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT docs)
install(FILES docs/man/cmcl.yaml.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 COMPONENT docs)
install(FILES tools/completion/pkgctl.bash RENAME pkgctl
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT docs)

# At install time (when --prefix and DESTDIR are known): the examples' driver_dir
# (../../packages/drivers) as a relative link to the installed drivers, and the unit.
# The link is relative, so that it holds under DESTDIR and wherever the tree is copied.
file(RELATIVE_PATH CMCL_DRIVERS_FROM_EXAMPLES /p/${CMCL_EXAMPLES}/packages /p/lib/cmcl/drivers)
set(cmcl_install_code [[
  # The manifest lists paths without DESTDIR, as CMake's own entries do.
  set(cmcl_root "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
  set(cmcl_link "${cmcl_root}/@CMCL_EXAMPLES@/packages/drivers")
  message(STATUS "Installing: ${cmcl_link} -> @CMCL_DRIVERS_FROM_EXAMPLES@")
  file(CREATE_LINK @CMCL_DRIVERS_FROM_EXAMPLES@ "${cmcl_link}" SYMBOLIC)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES
       "${CMAKE_INSTALL_PREFIX}/@CMCL_EXAMPLES@/packages/drivers")

  set(CMCL_SBINDIR "${CMAKE_INSTALL_PREFIX}/@CMAKE_INSTALL_SBINDIR@")
  set(cmcl_unit "${cmcl_root}/lib/systemd/system/cmcld.service")
  message(STATUS "Installing: ${cmcl_unit}")
  configure_file("@PROJECT_SOURCE_DIR@/systemd/cmcld.service" "${cmcl_unit}" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES
       "${CMAKE_INSTALL_PREFIX}/lib/systemd/system/cmcld.service")
]])
string(CONFIGURE "${cmcl_install_code}" cmcl_install_code @ONLY)
install(CODE "${cmcl_install_code}")
