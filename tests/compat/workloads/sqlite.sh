# sqlite3 running SQL: tables, 50k rows from a recursive CTE, an index, joins, aggregates,
# a transaction rolled back; the database is compared through its dump.
sqlite3 data.db < "$WORKLOADS/work.sql" > sqlite.out
sqlite3 data.db .dump > dump.sql
rm data.db
