# The floors and the PostgreSQL alternative of the comparison benchmark (issue 5):
# floor_bench (bare ZeroMQ round trip; bare ROUTER + LMDB group commit) and
# pg_bench (the same postings and eligibility rules on PostgreSQL 15 via libpq).
# Included from tests/bench/CMakeLists.txt.
find_package(Threads REQUIRED)

add_executable(floor_bench ${CMAKE_CURRENT_SOURCE_DIR}/floor_bench.c)
target_link_libraries(floor_bench PRIVATE PkgConfig::ZMQ PkgConfig::LMDB Threads::Threads)

pkg_check_modules(PQ IMPORTED_TARGET libpq)
if(PQ_FOUND AND TARGET gx_workload)
  add_executable(pg_bench ${CMAKE_CURRENT_SOURCE_DIR}/pg_bench.c ${CMAKE_CURRENT_SOURCE_DIR}/pick.c ${CMAKE_CURRENT_SOURCE_DIR}/pg_sql.c
    ${CMAKE_CURRENT_SOURCE_DIR}/pg_srv.c)
  target_link_libraries(pg_bench PRIVATE gx_workload gx_core PkgConfig::PQ Threads::Threads ${MATH_LIB})
elseif(NOT PQ_FOUND)
  message(STATUS "libpq not found (libpq-dev): pg_bench is not built")
endif()
