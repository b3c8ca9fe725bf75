# The benchmark's Python workload: object-heavy work that allocates all the time (dicts, lists,
# strings, small objects, JSON), about a second natively. Deterministic output.
import collections
import json
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8


class Record:
    __slots__ = ("key", "values", "label")

    def __init__(self, key, values, label):
        self.key = key
        self.values = values
        self.label = label


checksum = 0
for round_index in range(rounds):
    records = [Record(i, [i * k % 97 for k in range(8)], "item-%d-%d" % (round_index, i))
               for i in range(40000)]
    index = collections.defaultdict(list)
    for record in records:
        index[record.label[-3:]].append(record)
    summary = {key: sum(sum(r.values) for r in group) for key, group in index.items()}
    text = json.dumps(summary, sort_keys=True)
    decoded = json.loads(text)
    words = " ".join(r.label for r in records[:20000]).split()
    counts = collections.Counter(word[:6] for word in words)
    checksum = (checksum * 31 + len(text) + sum(decoded.values()) + len(counts)) % 1000000007
print("python workload", rounds, checksum)
