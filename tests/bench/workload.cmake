# The deterministic city-shaped workload (workload.h) shared by the benchmarks,
# and its unit test. Included from tests/bench/CMakeLists.txt, so
# CMAKE_CURRENT_SOURCE_DIR is tests/bench.
add_library(gx_workload STATIC ${CMAKE_CURRENT_SOURCE_DIR}/workload.c)
target_link_libraries(gx_workload PUBLIC gx_core)
target_include_directories(gx_workload PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})

add_executable(test_workload ${CMAKE_CURRENT_SOURCE_DIR}/test_workload.c)
target_link_libraries(test_workload PRIVATE gx_workload)
target_include_directories(test_workload PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
add_test(NAME unit.workload COMMAND test_workload)
set_tests_properties(unit.workload PROPERTIES LABELS unit TIMEOUT 120
  ENVIRONMENT "GX_TEST_TMP=${CMAKE_BINARY_DIR}/tmp;GX_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
