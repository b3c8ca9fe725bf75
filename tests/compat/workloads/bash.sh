# A bash script: arrays, associative arrays, string operations, arithmetic, functions, command
# substitution, pipes and subshells.
bash "$WORKLOADS/work.bash" > bash.out
