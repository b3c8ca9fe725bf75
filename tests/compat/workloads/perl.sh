# A perl script: hashes, regular expressions, sort, sprintf, references.
perl "$WORKLOADS/work.pl" > perl.out
