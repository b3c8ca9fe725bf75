-- The benchmark's SQL workload: inserts, an index, joins, grouping and sorting, about a second
-- natively. Deterministic output.
PRAGMA journal_mode = MEMORY;
CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, region INTEGER);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, amount REAL, note TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
  INSERT INTO customer SELECT i, 'customer-' || i, i % 50 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
  INSERT INTO orders SELECT i, (i * 7919) % 20000 + 1, (i % 1000) / 10.0,
                            printf('order %d for %d', i, (i * 7919) % 20000 + 1) FROM n;
CREATE INDEX orders_by_customer ON orders(customer);
SELECT region, count(*), round(sum(amount), 1) FROM orders JOIN customer ON customer.id = orders.customer
  GROUP BY region ORDER BY region LIMIT 5;
SELECT name, round(total, 1) FROM (SELECT customer, sum(amount) AS total FROM orders GROUP BY customer)
  JOIN customer ON customer.id = customer ORDER BY total DESC, name LIMIT 5;
SELECT count(DISTINCT note), max(length(note)) FROM orders;
SELECT substr(note, 1, 9), count(*) FROM orders GROUP BY substr(note, 1, 9) ORDER BY 2 DESC, 1 LIMIT 3;
UPDATE orders SET note = upper(note) WHERE id % 3 = 0;
DELETE FROM orders WHERE amount < 10;
SELECT count(*), round(avg(amount), 3) FROM orders;
