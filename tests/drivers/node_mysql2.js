// Node mysql2 through Tandem: connect options as the driver sets them, transactions, prepared
// statements (execute = server-side), multi-results, LOCAL INFILE, a 4 MiB value, and a write on
// one connection read at once on another. Connection from TANDEM_* variables; prints "ok mysql2".
const path = require('path');
const fs = require('fs');
const os = require('os');
const crypto = require('crypto');
const mysql = require(path.join(process.env.TANDEM_NODE_MODULES || '.', 'mysql2/promise'));

const opts = {
  host: process.env.TANDEM_HOST || '127.0.0.1',
  port: Number(process.env.TANDEM_PORT),
  user: process.env.TANDEM_USER || 'app',
  password: process.env.TANDEM_PASSWORD || 'apppass',
  database: process.env.TANDEM_DB || 'shop',
  charset: 'utf8mb4',
  multipleStatements: true,
  infileStreamFactory: (p) => fs.createReadStream(p),
};
const t = 'drv_mysql2';

function check(cond, what) {
  if (!cond) throw new Error(what);
}

(async () => {
  const a = await mysql.createConnection(opts);
  const b = await mysql.createConnection(opts);
  await a.query(`DROP TABLE IF EXISTS ${t}`);
  await a.query(`CREATE TABLE ${t} (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100), blob_v LONGBLOB)`);
  await a.query(`DROP PROCEDURE IF EXISTS ${t}_two`);
  await a.query(`CREATE PROCEDURE ${t}_two() BEGIN SELECT 1 AS one; SELECT COUNT(*) AS n FROM ${t}; END`);

  await a.beginTransaction();
  await a.execute(`INSERT INTO ${t} (v) VALUES (?)`, ['rolled back']);
  await a.rollback();
  await a.beginTransaction();
  await a.execute(`INSERT INTO ${t} (v) VALUES (?)`, ['committed']);
  await a.commit();
  const [rows] = await a.query(`SELECT v FROM ${t}`);
  check(rows.length === 1 && rows[0].v === 'committed', `transactions: ${JSON.stringify(rows)}`);

  for (let i = 0; i < 5; i++) await a.execute(`INSERT INTO ${t} (v) VALUES (?)`, [`p${i}`]);
  const [[p]] = await a.execute(`SELECT COUNT(*) AS n FROM ${t} WHERE v LIKE ?`, ['p%']);
  check(Number(p.n) === 5, `prepared: ${p.n}`);

  const [sets] = await a.query(`CALL ${t}_two()`);
  check(sets[0][0].one === 1 && Number(sets[1][0].n) === 6, `multi-results: ${JSON.stringify(sets)}`);
  const [multi] = await a.query('SELECT 1 AS x; SELECT 2 AS y');
  check(multi[0][0].x === 1 && multi[1][0].y === 2, 'multi-statements');

  const file = path.join(os.tmpdir(), `tandem-infile-${process.pid}.tsv`);
  fs.writeFileSync(file, 'infile1\ninfile2\n');
  await a.query({ sql: `LOAD DATA LOCAL INFILE '${file}' INTO TABLE ${t} (v)`, infileStreamFactory: () => fs.createReadStream(file) });
  fs.unlinkSync(file);
  const [[inf]] = await a.query(`SELECT COUNT(*) AS n FROM ${t} WHERE v LIKE 'infile%'`);
  check(Number(inf.n) === 2, `local infile: ${inf.n}`);

  const big = crypto.randomBytes(4 << 20);
  await a.execute(`INSERT INTO ${t} (v, blob_v) VALUES (?, ?)`, ['big', big]);
  const [[back]] = await a.query(`SELECT blob_v FROM ${t} WHERE v = 'big'`);
  check(Buffer.compare(back.blob_v, big) === 0, `large value: ${back.blob_v.length}`);

  for (let i = 0; i < 20; i++) {
    await a.execute(`INSERT INTO ${t} (v) VALUES (?)`, [`cross${i}`]);
    const [[seen]] = await b.execute(`SELECT COUNT(*) AS n FROM ${t} WHERE v = ?`, [`cross${i}`]);
    check(Number(seen.n) === 1, `the other connection missed write ${i}`);
  }

  await a.query(`DROP PROCEDURE ${t}_two`);
  await a.query(`DROP TABLE ${t}`);
  await a.end();
  await b.end();
  console.log('ok mysql2');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
