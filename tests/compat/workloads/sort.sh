# sort --parallel with a small buffer: threads, temporary files, a merge.
seq 1 400000 | awk '{ print ($1 * 7919) % 100003 " key" $1 }' > unsorted.txt
sort --parallel=4 -S 2M -T . -k1,1n -k2,2 unsorted.txt > sorted.txt
sort --parallel=4 -u -t' ' -k1,1n unsorted.txt | wc -l > unique.out
rm unsorted.txt
