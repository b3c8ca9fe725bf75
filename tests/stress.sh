#!/usr/bin/env bash
# The long safety stress run (60 s by default) that CI shortens: see tests/test_safety_stress.cpp.
#   tests/stress.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build_dir=${1:-build}
# (Not named DAMON_PROF_*: the runtime warns about DAMON_PROF_ variables it does not know, and
# the program's stderr must equal its native run's.)
STRESS_SECONDS=${2:-60} "$build_dir/bin/integration_tests" --gtest_filter='SafetyStress.*:SmallBlocks.TheStressedProgramCannotTell'
