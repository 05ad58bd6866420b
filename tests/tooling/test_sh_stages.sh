#!/usr/bin/env bash
# scripts/test.sh runs all three stages whatever fails, then prints one line per stage
# and exits non-zero (issue 12: set -e stopped it at the first failing stage, so the
# sanitizer and fuzz stages never ran). The real scripts/test.sh runs here on a small
# stand-in project in a scratch directory, where `npm ci` fails (no lock file), the
# release stage has a failing test, the asan stage's build fails and the fuzz stage
# passes; only scripts/deps.sh is a stub (the real one is not what is tested, and
# installs packages).
#
#   tests/tooling/test_sh_stages.sh SOURCE_DIR SCRATCH_DIR
set -u -o pipefail
src=$1 dir=$2
rm -rf "$dir"
mkdir -p "$dir/scripts" "$dir/tests/browser"
cp "$src/scripts/test.sh" "$dir/scripts/test.sh"
printf '#!/bin/sh\nexit 0\n' >"$dir/scripts/deps.sh"
chmod +x "$dir/scripts/test.sh" "$dir/scripts/deps.sh"
printf '{"name": "stand-in", "private": true}\n' >"$dir/tests/browser/package.json"
cat >"$dir/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(stand_in C)
option(GX_SANITIZE "" OFF)
option(GX_FUZZ "" OFF)
option(GX_WERROR "" OFF)
option(GX_TESTS "" OFF)
file(WRITE ${CMAKE_BINARY_DIR}/main.c "int main(void) { return 0; }\n")
if(GX_SANITIZE)
  file(WRITE ${CMAKE_BINARY_DIR}/main.c "#error the asan build is broken\n")
endif()
add_executable(stand_in ${CMAKE_BINARY_DIR}/main.c)
enable_testing()
if(GX_FUZZ)
  add_test(NAME fuzz.a COMMAND true)
  add_test(NAME fuzz.b COMMAND true)
  set_tests_properties(fuzz.a fuzz.b PROPERTIES LABELS fuzz)
  add_test(NAME unit.not_in_fuzz COMMAND false)
else()
  add_test(NAME unit.passes COMMAND true)
  add_test(NAME unit.fails COMMAND false)
  add_test(NAME integration.passes COMMAND true)
  add_test(NAME integration.fails COMMAND sh -c "exit 3")
endif()
EOF

out=$dir/out.log
"$dir/scripts/test.sh" >"$out" 2>&1 </dev/null
rc=$?
bad=0
check() { # check WHAT GREP-PATTERN: one line of the output matches
  if grep -qxE "$2" "$out"; then echo "ok - $1"; else echo "not ok - $1 (no line matching: $2)"; bad=1; fi
}
if [ $rc -ne 0 ]; then echo "ok - exit status $rc"; else echo "not ok - exit status 0 though stages failed"; bad=1; fi
check "npm ci's failure is in the summary" 'setup: FAILED \(npm ci in tests/browser.*\)'
check "release: its failing tests named" 'stage release: FAILED \(2 of 4: unit\.fails, integration\.fails\), [0-9]+ s'
check "asan: the failed build fails the stage" 'stage asan: FAILED \(build of build-asan\)'
check "fuzz ran after both failures, only -L fuzz" 'stage fuzz: 2 tests, 0 failed, [0-9]+ s'
# the summary is the end of the output, in stage order
if tail -3 "$out" | cut -d: -f1 | paste -sd' ' - | grep -qx 'stage release stage asan stage fuzz'; then
  echo "ok - one summary line per stage at the end"
else
  echo "not ok - summary lines at the end"
  bad=1
fi
if [ $bad -ne 0 ]; then
  echo "---- scripts/test.sh output (tail)"
  tail -40 "$out"
  exit 1
fi
rm -rf "$dir"
