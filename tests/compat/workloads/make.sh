# make building a small C project in parallel (gcc, cc1, as, collect2, ld: a tree of children),
# then running what it built.
cp -r "$WORKLOADS/make_project" project
make -s -C project -j2 > make.out
./project/calc 30 >> make.out
make -s -C project clean >> make.out
rm -rf project
