import hashlib, json, re, collections, itertools

words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
index = collections.defaultdict(list)
for i in range(60000):
    key = words[i % len(words)] + str(i % 977)
    index[key].append(i * 7 % 1013)

class Shape:
    def area(self): raise NotImplementedError
class Square(Shape):
    def __init__(self, side): self.side = side
    def area(self): return self.side * self.side
class Circle(Shape):
    def __init__(self, radius): self.radius = radius
    def area(self): return round(3.14159 * self.radius * self.radius, 3)

shapes = [Square(i % 13) if i % 2 else Circle(i % 11) for i in range(20000)]
total_area = sum(shape.area() for shape in shapes)
pattern = re.compile(r"(\w+?)(\d+)")
matched = sum(1 for key in index if pattern.fullmatch(key))
document = json.dumps({key: sorted(values)[:5] for key, values in sorted(index.items())[:2000]})
decoded = json.loads(document)
pairs = list(itertools.islice(itertools.combinations(range(200), 2), 15000))
text = " ".join(words * 5000)
counts = collections.Counter(text.split())
digest = hashlib.sha256(document.encode()).hexdigest()
print("keys", len(index), "matched", matched, "area", round(total_area, 2))
print("pairs", len(pairs), "decoded", len(decoded), "counts", sorted(counts.items())[:3])
print("digest", digest)
