# engine_bench: the matching engine alone on the workload (see engine_bench.c).
if(TARGET gx_workload)
  add_executable(engine_bench ${CMAKE_CURRENT_SOURCE_DIR}/engine_bench.c)
  target_link_libraries(engine_bench PRIVATE gx_workload gx_core)
endif()
