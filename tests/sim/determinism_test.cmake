# sim.determinism: one seed run twice gives the same trace hash (STYLE.md rule 32), and a
# different seed gives a different one (so the hash is not a constant).
#   cmake -DSIM=path/to/cmcl-sim -DSEED=N -P determinism_test.cmake
function(run_hash seed out)
  execute_process(COMMAND ${SIM} --seed ${seed} --swarm
                  OUTPUT_VARIABLE output RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmcl-sim --seed ${seed} --swarm failed (${rc}):\n${output}")
  endif()
  string(REGEX MATCH "hash=[0-9a-f]+" hash "${output}")
  if(hash STREQUAL "")
    message(FATAL_ERROR "no trace hash in:\n${output}")
  endif()
  set(${out} ${hash} PARENT_SCOPE)
endfunction()

run_hash(${SEED} first)
run_hash(${SEED} second)
math(EXPR other "${SEED} + 1")
run_hash(${other} third)
message(STATUS "seed ${SEED}: ${first} then ${second}; seed ${other}: ${third}")
if(NOT first STREQUAL second)
  message(FATAL_ERROR "seed ${SEED} is not deterministic: ${first} != ${second}")
endif()
if(first STREQUAL third)
  message(FATAL_ERROR "seeds ${SEED} and ${other} gave the same trace hash ${first}")
endif()
