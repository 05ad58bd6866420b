# A second configure of an unchanged tree must generate the same build: the same
# compile flags (flags.make) and link lines (link.txt) for every target. When it
# did not, `scripts/start.sh` after any configure rebuilt nearly everything and
# relinked gongxud (issue 12: pkg_check_modules moved libzmq's
# "-isystem /usr/include/mit-krb5" into the C flags on the second configure).
#
#   cmake -DSRC=<source dir> -DDIR=<scratch build dir> [-DGENERATOR=...] [-DCC=...]
#         -P configure_twice.cmake
#
# Configures SRC into DIR twice (GX_TESTS=OFF, nothing built), fails naming every
# file that differs, and removes DIR when it passes.
cmake_minimum_required(VERSION 3.25)
foreach(v SRC DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "configure_twice: -D${v}=... is required")
  endif()
endforeach()
set(args -S ${SRC} -B ${DIR} -DGX_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if(GENERATOR)
  list(APPEND args -G ${GENERATOR})
endif()
if(CC)
  list(APPEND args -DCMAKE_C_COMPILER=${CC})
endif()

function(s_configure round)
  execute_process(COMMAND ${CMAKE_COMMAND} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configure ${round} of ${SRC} failed (${rc}):\n${out}")
  endif()
endfunction()

# every generated flags.make and link.txt of DIR, relative to it
function(s_generated out)
  file(GLOB_RECURSE files RELATIVE ${DIR} ${DIR}/*/flags.make ${DIR}/*/link.txt)
  list(SORT files)
  set(${out} "${files}" PARENT_SCOPE)
endfunction()

set(first ${DIR}.first)
file(REMOVE_RECURSE ${DIR} ${first})
s_configure(1)
s_generated(A)
list(LENGTH A n)
if(n EQUAL 0)
  message(FATAL_ERROR "configure 1 generated no flags.make or link.txt under ${DIR}: nothing to compare")
endif()
foreach(f IN LISTS A)
  get_filename_component(d ${first}/${f} DIRECTORY)
  file(COPY ${DIR}/${f} DESTINATION ${d})
endforeach()
s_configure(2)
s_generated(B)

set(diffs "")
if(NOT A STREQUAL B)
  string(APPEND diffs "the set of files differs:\n  first:  ${A}\n  second: ${B}\n")
endif()
foreach(f IN LISTS A)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${first}/${f} ${DIR}/${f} RESULT_VARIABLE same)
  if(NOT same EQUAL 0)
    execute_process(COMMAND diff -u ${first}/${f} ${DIR}/${f} OUTPUT_VARIABLE d)
    string(APPEND diffs "${d}")
  endif()
endforeach()
if(diffs)
  message("${diffs}") # verbatim: FATAL_ERROR would re-wrap the diff
  message(FATAL_ERROR "a second configure of ${SRC} changed the build (above), so the next build recompiles")
endif()
file(REMOVE_RECURSE ${DIR} ${first})
message(STATUS "configured twice: ${n} flags.make and link.txt files identical")
