# python3 (Debian's, isolated from site packages) running a script: dicts, lists, strings,
# regular expressions, JSON, sorting, a class hierarchy, a generator pipeline.
/usr/bin/python3 -I -S "$WORKLOADS/work.py" > python.out
