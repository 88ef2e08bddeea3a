# cmcl_deps: gRPC++, protobuf, yaml-cpp and OpenSSL's libcrypto, linked shared or static
# per executable.
#
# Why: pkgctl is a process per command, and loading gRPC's 58 shared libraries (gRPC, absl,
# re2, c-ares, ...) cost 15-20 ms of CPU per command, mostly the dynamic loader's symbol
# lookups and page faults: more than the cluster's own part of a `pkgctl move`. Linked
# against the same Debian packages' static archives, `pkgctl --help` took 3.6 ms instead
# of 14.5-24 ms (docs/BENCHMARKS.md, "Re-measured after three fixes"). An executable opts
# in with
#
#   set_target_properties(EXE PROPERTIES CMCL_STATIC_DEPS ON)
#
# and every library on its link line that depends on cmcl_deps then brings the static
# archives instead of the shared libraries: the one-argument $<TARGET_PROPERTY:...> in a
# link interface is evaluated on the executable being linked. The tests keep the shared
# libraries (faster links, smaller binaries). One process never holds both kinds: all of
# gRPC, protobuf, yaml-cpp and libcrypto switch together.
#
# CMCL_STATIC_DEPS=OFF, or a missing archive, links everything shared.
option(CMCL_STATIC_DEPS "Link pkgctl and cmcld against static gRPC/protobuf/yaml-cpp" ON)

add_library(cmcl_deps INTERFACE)
set(cmcl_deps_shared gRPC::grpc++ protobuf::libprotobuf yaml-cpp OpenSSL::Crypto)
set(cmcl_deps_static "")
if(CMCL_STATIC_DEPS)
  find_package(PkgConfig REQUIRED)
  # The static link order of the whole closure (absl, re2, c-ares, upb, ssl, z, ...).
  execute_process(
    COMMAND ${PKG_CONFIG_EXECUTABLE} --static --libs-only-l grpc++ protobuf yaml-cpp libcrypto
    OUTPUT_VARIABLE cmcl_deps_flags OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE cmcl_deps_result)
  if(NOT cmcl_deps_result EQUAL 0)
    message(STATUS "cmcl_deps: pkg-config failed; linking gRPC and protobuf shared")
  else()
    separate_arguments(cmcl_deps_flags UNIX_COMMAND "${cmcl_deps_flags}")
    set(cmcl_deps_names "")
    foreach(flag IN LISTS cmcl_deps_flags)
      if(flag MATCHES "^-l(.+)$")
        list(APPEND cmcl_deps_names ${CMAKE_MATCH_1})
      endif()
    endforeach()
    list(REMOVE_DUPLICATES cmcl_deps_names)
    # The C library's parts stay shared: a static libm or libpthread next to a shared glibc
    # is not a thing to do.
    list(REMOVE_ITEM cmcl_deps_names c m dl rt pthread atomic)
    set(cmcl_deps_missing "")
    foreach(name IN LISTS cmcl_deps_names)
      string(MAKE_C_IDENTIFIER "CMCL_STATIC_${name}" var)
      find_library(${var} NAMES lib${name}.a)
      if(${var})
        list(APPEND cmcl_deps_static ${${var}})
      else()
        list(APPEND cmcl_deps_missing lib${name}.a)
      endif()
    endforeach()
    if(cmcl_deps_missing)
      message(STATUS "cmcl_deps: no ${cmcl_deps_missing}; linking gRPC and protobuf shared")
      set(cmcl_deps_static "")
    endif()
  endif()
endif()

if(cmcl_deps_static)
  # One group that the linker rescans (--start-group/--end-group): the absl archives
  # refer to one another in cycles.
  list(JOIN cmcl_deps_static "," cmcl_deps_group)
  set(static_on "$<BOOL:$<TARGET_PROPERTY:CMCL_STATIC_DEPS>>")
  target_link_libraries(cmcl_deps INTERFACE
    "$<${static_on}:$<LINK_GROUP:RESCAN,${cmcl_deps_group}>>")
  # One item per genex: a list inside a generator expression would be split at its ';'.
  foreach(lib IN ITEMS ${CMAKE_DL_LIBS} Threads::Threads rt atomic)
    target_link_libraries(cmcl_deps INTERFACE "$<${static_on}:${lib}>")
  endforeach()
  foreach(lib IN LISTS cmcl_deps_shared)
    target_link_libraries(cmcl_deps INTERFACE "$<$<NOT:${static_on}>:${lib}>")
  endforeach()
  message(STATUS "cmcl_deps: executables marked CMCL_STATIC_DEPS link gRPC, protobuf, "
                 "yaml-cpp and libcrypto statically")
else()
  target_link_libraries(cmcl_deps INTERFACE ${cmcl_deps_shared})
endif()

# Marks executables to link cmcl_deps statically (a no-op when it is shared).
function(cmcl_static_deps target)
  set_target_properties(${target} PROPERTIES CMCL_STATIC_DEPS ON)
endfunction()
