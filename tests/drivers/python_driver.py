"""One Python driver through Tandem: connect options as the driver sets them, transactions,
prepared statements, multi-results (a procedure returning two result sets), LOCAL INFILE, a
4 MiB value, and a write on one connection read at once on another.

Usage: python_driver.py DRIVER   (pymysql | connector-pure | connector-c | mariadb)
Connection from TANDEM_HOST, TANDEM_PORT, TANDEM_USER, TANDEM_PASSWORD, TANDEM_DB.
Prints "ok DRIVER" and exits 0, or raises.
"""
import hashlib
import os
import sys
import tempfile

driver = sys.argv[1]
host = os.environ.get("TANDEM_HOST", "127.0.0.1")
port = int(os.environ["TANDEM_PORT"])
user = os.environ.get("TANDEM_USER", "app")
password = os.environ.get("TANDEM_PASSWORD", "apppass")
db = os.environ.get("TANDEM_DB", "shop")
tag = driver.replace("-", "_")
table = f"drv_{tag}"
ph = "%s"


def connect():
    global ph
    if driver == "pymysql":
        import pymysql

        return pymysql.connect(host=host, port=port, user=user, password=password,
                               database=db, charset="utf8mb4", local_infile=True,
                               autocommit=True)
    if driver.startswith("connector"):
        import mysql.connector

        c = mysql.connector.connect(host=host, port=port, user=user, password=password,
                                    database=db, charset="utf8mb4", autocommit=True,
                                    use_pure=(driver == "connector-pure"),
                                    allow_local_infile=True,
                                    allow_local_infile_in_path=tempfile.gettempdir())
        kind = type(c).__name__
        want = "MySQLConnection" if driver == "connector-pure" else "CMySQLConnection"
        assert kind == want, f"{driver}: got {kind}"
        return c
    if driver == "mariadb":
        import mariadb

        ph = "?"
        return mariadb.connect(host=host, port=port, user=user, password=password,
                               database=db, autocommit=True, local_infile=True)
    raise SystemExit(f"unknown driver {driver}")


def q(sql):
    return sql.replace("%s", ph)


def set_autocommit(conn, on):
    # PyMySQL has a method, the others a property.
    if driver == "pymysql":
        conn.autocommit(on)
    else:
        conn.autocommit = on


a = connect()
b = connect()
cur = a.cursor()
cur.execute(f"DROP TABLE IF EXISTS {table}")
cur.execute(f"CREATE TABLE {table} (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100), "
            "blob_v LONGBLOB)")
cur.execute(f"DROP PROCEDURE IF EXISTS {table}_two")
cur.execute(f"CREATE PROCEDURE {table}_two() BEGIN SELECT 1 AS one; "
            f"SELECT COUNT(*) AS n FROM {table}; END")

# Transactions: a rollback leaves nothing, a commit keeps the row.
set_autocommit(a, False)
cur.execute(q(f"INSERT INTO {table} (v) VALUES (%s)"), ("rolled back",))
a.rollback()
cur.execute(q(f"INSERT INTO {table} (v) VALUES (%s)"), ("committed",))
a.commit()
set_autocommit(a, True)
cur.execute(f"SELECT v FROM {table}")
rows = [r[0] for r in cur.fetchall()]
assert rows == ["committed"], rows

# Prepared statements (server-side where the driver has them).
if driver == "connector-pure" or driver == "connector-c":
    pcur = a.cursor(prepared=True)
else:
    pcur = a.cursor()
for i in range(5):
    pcur.execute(q(f"INSERT INTO {table} (v) VALUES (%s)"), (f"p{i}",))
pcur.execute(q(f"SELECT COUNT(*) FROM {table} WHERE v LIKE %s"), ("p%",))
assert pcur.fetchone()[0] == 5
pcur.close()

# Multi-results: a procedure with two result sets.
if driver.startswith("connector"):
    ccur = a.cursor()
    ccur.callproc(f"{table}_two")
    sets = [r.fetchall() for r in ccur.stored_results()]  # noqa: deprecated in 9.x
    assert sets[0] == [(1,)] and sets[1][0][0] == 6, sets
    ccur.close()
else:
    ccur = a.cursor()
    ccur.execute(f"CALL {table}_two()")
    first = ccur.fetchall()
    assert ccur.nextset()
    second = ccur.fetchall()
    assert tuple(first[0]) == (1,) and second[0][0] == 6, (first, second)
    while ccur.nextset():
        pass
    ccur.close()

# LOCAL INFILE.
with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
    f.write("infile1\ninfile2\n")
    path = f.name
cur.execute(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} (v)")
os.unlink(path)
cur.execute(f"SELECT COUNT(*) FROM {table} WHERE v LIKE 'infile%'")
assert cur.fetchone()[0] == 2

# A 4 MiB value, through a parameter, read back whole.
big = os.urandom(4 << 20)
cur.execute(q(f"INSERT INTO {table} (v, blob_v) VALUES (%s, %s)"), ("big", big))
cur.execute(f"SELECT blob_v FROM {table} WHERE v = 'big'")
back = bytes(cur.fetchone()[0])
assert hashlib.sha256(back).digest() == hashlib.sha256(big).digest(), len(back)

# A write on one connection, read at once on another.
bcur = b.cursor()
for i in range(20):
    cur.execute(q(f"INSERT INTO {table} (v) VALUES (%s)"), (f"cross{i}",))
    bcur.execute(q(f"SELECT COUNT(*) FROM {table} WHERE v = %s"), (f"cross{i}",))
    n = bcur.fetchone()[0]
    assert n == 1, f"the other connection missed write {i}"

cur.execute(f"DROP PROCEDURE {table}_two")
cur.execute(f"DROP TABLE {table}")
a.close()
b.close()
print(f"ok {driver}")
