# xz and gzip: compress and decompress generated data; the compressed bytes must be the same.
seq 1 100000 | sed 's/$/ some text to compress/' > input.txt
xz -T1 -k -6 input.txt
gzip -n -k -9 input.txt
xz -dc input.txt.xz | cmp - input.txt && echo xz round trip ok > roundtrip.out
gzip -dc input.txt.gz | cmp - input.txt && echo gzip round trip ok >> roundtrip.out
rm input.txt
