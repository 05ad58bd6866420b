# rules_bench: one evaluated pair, on strings and on prepared records (see rules_bench.c).
if(TARGET gx_workload)
  add_executable(rules_bench ${CMAKE_CURRENT_SOURCE_DIR}/rules_bench.c)
  target_link_libraries(rules_bench PRIVATE gx_workload gx_core)
endif()
