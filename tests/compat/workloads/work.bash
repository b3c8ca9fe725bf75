declare -A counts
words=(alpha beta gamma delta epsilon)
fib() { local a=0 b=1 i; for ((i = 0; i < $1; i++)); do ((b = a + b, a = b - a)); done; echo $a; }
for ((i = 0; i < 3000; i++)); do
  word=${words[i % 5]}
  counts[$word]=$(( ${counts[$word]:-0} + i % 7 ))
done
for word in "${words[@]}"; do echo "$word ${counts[$word]} ${word^^} ${#word}"; done
echo "fib $(fib 50)"
text=$(printf '%s\n' {1..2000} | paste -sd+ | bc 2>/dev/null || echo none)
echo "sum $text"
( cd / && echo "subshell in $PWD" )
seq 1 500 | while read -r n; do (( n % 97 == 0 )) && echo "multiple $n"; done
joined=$(IFS=,; echo "${words[*]}")
echo "${joined//a/A}"
