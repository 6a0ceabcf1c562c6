# Install and package, included by the top CMakeLists.txt.
#
#   cmake --install build [--prefix P]    P defaults to /usr/local
#   cd build && cpack -G DEB              op25b-watch_<version>_<arch>.deb, prefix /usr
#
# Every path follows the prefix given when installing (not the one configured), so the
# parts that depend on it are worked out by install-time code below. Tests are never
# installed.

# 0755 directories whatever the umask of whoever installs or packages.
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
    GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

# The manual page and the changelog are installed compressed, with gzip -9n (no name, no
# time stamp) so that two builds make the same bytes, as Debian asks.
set(OP25B_GZIPPED)
foreach(pair "docs/op25b-watch.8:op25b-watch.8.gz" "docs/op25b-correlate.8:op25b-correlate.8.gz"
             "rules/debian/changelog:changelog.gz")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 source)
  list(GET pair 1 output)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/${output}
                     COMMAND sh -c "gzip -9n -c \"$1\" > \"$2\"" sh
                             ${CMAKE_SOURCE_DIR}/${source} ${CMAKE_BINARY_DIR}/${output}
                     DEPENDS ${CMAKE_SOURCE_DIR}/${source} VERBATIM)
  list(APPEND OP25B_GZIPPED ${CMAKE_BINARY_DIR}/${output})
endforeach()
add_custom_target(op25b-gzipped-docs ALL DEPENDS ${OP25B_GZIPPED})

# The sensor, and op25b-correlate, which joins a fleet of sensors' events (docs/fleet.md).
install(TARGETS op25b-watch op25b-correlate RUNTIME DESTINATION bin)
install(FILES ${CMAKE_BINARY_DIR}/op25b-watch.8.gz ${CMAKE_BINARY_DIR}/op25b-correlate.8.gz
        DESTINATION share/man/man8)

# Documentation: the top README and the policy reference (both README.md in the source)
# under distinct names, the example policy, and what Debian wants of every package.
set(OP25B_DOC share/doc/op25b-watch)
install(FILES README.md rules/debian/copyright ${CMAKE_BINARY_DIR}/changelog.gz
        DESTINATION ${OP25B_DOC})
install(FILES rules/README.md DESTINATION ${OP25B_DOC} RENAME policy-reference.md)
install(FILES rules/example.yaml DESTINATION ${OP25B_DOC}/examples)
# The README's links into docs/ hold where it is installed too.
install(DIRECTORY docs/ DESTINATION ${OP25B_DOC}/docs FILES_MATCHING PATTERN "*.md")

# Grafana dashboards and provisioning, Prometheus alerting rules, the event and report
# schemas with their documentation: the folder as it is, so its relative links still work.
install(DIRECTORY dashboards/ DESTINATION share/op25b-watch/dashboards)

# systemd: the service user and the spool directory, read from PREFIX/lib as systemd does
# for /usr and /usr/local.
install(FILES rules/systemd/op25b-watch.sysusers DESTINATION lib/sysusers.d
        RENAME op25b-watch.conf)
install(FILES rules/systemd/op25b-watch.tmpfiles DESTINATION lib/tmpfiles.d
        RENAME op25b-watch.conf)

# The unit names the binary and README by their /usr/local paths: each gets the prefix
# installed to. The logrotate example goes where logrotate reads it: /etc for the prefix
# /usr (as GNUInstallDirs places sysconfdir), PREFIX/etc for any other.
install(CODE "set(OP25B_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
              set(OP25B_STAGE \"${CMAKE_BINARY_DIR}/install-stage\")")
install(CODE [[
  file(READ "${OP25B_SOURCE_DIR}/rules/systemd/op25b-watch@.service" unit)
  string(REPLACE "/usr/local/" "${CMAKE_INSTALL_PREFIX}/" unit "${unit}")
  file(WRITE "${OP25B_STAGE}/op25b-watch@.service" "${unit}")
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE
       FILES "${OP25B_STAGE}/op25b-watch@.service")
  set(etc "${CMAKE_INSTALL_PREFIX}/etc")
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(etc "/etc")
  endif()
  file(INSTALL DESTINATION "${etc}/logrotate.d" TYPE FILE
       FILES "${OP25B_SOURCE_DIR}/rules/logrotate/op25b-watch")
]])

# The Debian package. Depends comes from the shared libraries the binary links
# (dpkg-shlibdeps); the binary is stripped.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME op25b-watch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS ${CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(OP25B_DEB_MAINTAINER "op25b-watch developers <op25b-watch@example.invalid>"
    CACHE STRING "Maintainer field of the Debian package")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${OP25B_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "passive sensor for outbound port 25 blocking (OP25B)")
# CPack puts the summary on the Description line, this below it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "op25b-watch reads a mirror port or capture files with libpcap and, from the
ISP's address plan in a YAML site policy, judges every TCP port 25 attempt
from a dynamic subscriber pool: allowed, blocked, leaked, would_block or
unknown, with the evidence. Detectors look for bots, evasion and mail
submission to third parties. Findings are JSON lines written to a file,
standard output or Kafka, with an audit report and Prometheus metrics.
op25b-correlate joins the events of a fleet of sensors read from Kafka into
one verdict per attempt, and says which blocking point let a leak through.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/rules/debian/conffiles ${CMAKE_SOURCE_DIR}/rules/debian/postinst
    ${CMAKE_SOURCE_DIR}/rules/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
