# Warnings are errors on the project's own code. Third-party and generated code is
# included as SYSTEM, so these flags never fire on it.
function(cmcl_target_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
    # Designated initializers leave members with defaults out on purpose (ops and
    # actions gain optional fields; every caller must not have to spell them all).
    -Wno-missing-field-initializers
    # g++ 12 false positives inside libstdc++ at -O2 (TOOLCHAIN.md).
    -Wno-restrict -Wno-array-bounds -Wno-stringop-overflow -Wno-maybe-uninitialized)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # The fuzz build (cmake/CmclFuzz.cmake): clang does not know the g++-only flags above.
    target_compile_options(${target} PRIVATE -Wno-unknown-warning-option)
  endif()
endfunction()
