# The fuzz build (CMCL_FUZZ=ON): libFuzzer harnesses with ASan and UBSan (issue 11).
#
# Configured in its own build dir with clang (tools/fuzz.sh does it):
#   CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
#     -DCMCL_FUZZ=ON
# Every library is instrumented for coverage and the sanitizers (-fsanitize=fuzzer-no-link);
# only the harnesses link libFuzzer's main. The libraries are EXCLUDE_FROM_ALL: the default
# target builds the harnesses and just what they link. The gcc builds never come here.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "CMCL_FUZZ=ON needs clang (libFuzzer): configure with "
                      "CC=clang CXX=clang++ in a build dir of its own")
endif()
# -O1 and line tables only: quicker to build (CI builds this dir from scratch) and the
# usual choice for fuzzing with ASan; stack traces keep their file:line.
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O1 -gline-tables-only")
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)
enable_testing()
add_subdirectory(cmcld EXCLUDE_FROM_ALL)
add_subdirectory(tests/fuzz)
