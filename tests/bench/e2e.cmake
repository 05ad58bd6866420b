# The end-to-end load client (gxload): a real ZeroMQ + CURVE client of a real
# gongxud, posting the shared deterministic workload. Driven by tests/bench/run.
# It needs the workload library; until that target exists it is not built.
if(TARGET gx_workload)
  add_executable(gxload ${CMAKE_CURRENT_SOURCE_DIR}/gxload.c ${CMAKE_CURRENT_SOURCE_DIR}/gxload_net.c
    ${CMAKE_CURRENT_SOURCE_DIR}/pick.c)
  target_include_directories(gxload PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  find_package(Threads REQUIRED)
  # gx_core for the record encoders of src/codec.h (the requests go over the real socket)
  target_link_libraries(gxload PRIVATE gx_workload gx_core gx_proto gongxu_keyfile PkgConfig::ZMQ Threads::Threads)
endif()
# The store-direct loader (gxbulk): grows a stopped broker's store to the
# restart and memory sizes in minutes instead of hours.
if(TARGET gx_workload)
  add_executable(gxbulk ${CMAKE_CURRENT_SOURCE_DIR}/gxbulk.c)
  target_link_libraries(gxbulk PRIVATE gx_workload gx_core)
endif()
# storewalk: records and bytes per table of a gongxu store (tests/bench/run feeds
# them to floor_bench's records floor). Plain LMDB, table names from src/store.h.
add_executable(storewalk ${CMAKE_CURRENT_SOURCE_DIR}/storewalk.c)
target_include_directories(storewalk PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(storewalk PRIVATE gx_core PkgConfig::LMDB)
