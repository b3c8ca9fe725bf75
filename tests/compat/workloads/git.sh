# git on a small repository: init, commits with fixed identities and dates, branches, a merge,
# log, diff, a packed repository; the commit ids must be the same.
export GIT_AUTHOR_NAME=compat GIT_AUTHOR_EMAIL=compat@example.com GIT_COMMITTER_NAME=compat
export GIT_COMMITTER_EMAIL=compat@example.com GIT_AUTHOR_DATE="2026-01-01T00:00:00Z"
export GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" GIT_CONFIG_NOSYSTEM=1 HOME=$PWD
git init -q -b main repo
cd repo
for i in $(seq 1 40); do echo "line $i" >> file.txt; printf 'data %d\n' $((i * i)) > "data$i.txt"; done
git add . && git commit -qm "first"
git checkout -qb feature
sed -i 's/line 7/line seven/' file.txt && git commit -qam "seven"
git checkout -q main
echo "more" >> data1.txt && git commit -qam "more"
git merge -q --no-edit feature
git log --format='%H %s' > ../git-log.out
git diff HEAD~2 --stat > ../git-diff.out
git gc -q 2>/dev/null
git count-objects -v | grep -v size > ../git-objects.out
git fsck -q && echo fsck ok > ../git-fsck.out
cd .. && rm -rf repo .gitconfig
