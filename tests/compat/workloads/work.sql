CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, region INTEGER);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, amount REAL, note TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO customers SELECT i, 'customer-' || i, i % 17 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
INSERT INTO orders SELECT i, (i * 7919) % 2000 + 1, (i % 997) * 1.25, printf('order %08d', i) FROM n;
CREATE INDEX orders_by_customer ON orders(customer);
SELECT region, count(*), round(sum(amount), 2) FROM orders JOIN customers ON customers.id = orders.customer
GROUP BY region ORDER BY region;
SELECT name, round(total, 2) FROM (SELECT customer, sum(amount) AS total FROM orders GROUP BY customer)
JOIN customers ON customers.id = customer ORDER BY total DESC, name LIMIT 5;
BEGIN;
DELETE FROM orders WHERE amount > 100;
SELECT count(*) FROM orders;
ROLLBACK;
SELECT count(*), max(note) FROM orders;
UPDATE customers SET name = upper(name) WHERE region = 3;
VACUUM;
