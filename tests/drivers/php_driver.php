<?php
// A PHP driver through Tandem: PDO with emulated prepares (the PHP default), PDO with native
// (server-side) prepares, or mysqli. Transactions, prepared statements, a procedure with two
// result sets, LOCAL INFILE, a 4 MiB value, and a write on one connection read at once on
// another. Usage: php php_driver.php pdo-emulated|pdo-native|mysqli; prints "ok MODE".
$mode = $argv[1];
$host = getenv('TANDEM_HOST') ?: '127.0.0.1';
$port = (int) getenv('TANDEM_PORT');
$user = getenv('TANDEM_USER') ?: 'app';
$pass = getenv('TANDEM_PASSWORD') ?: 'apppass';
$db = getenv('TANDEM_DB') ?: 'shop';
$t = 'drv_' . str_replace('-', '_', $mode);

function check($ok, $what) {
    if (!$ok) {
        fwrite(STDERR, "failed: $what\n");
        exit(1);
    }
}

if ($mode === 'mysqli') {
    mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
    $open = function () use ($host, $port, $user, $pass, $db) {
        $m = mysqli_init();
        $m->options(MYSQLI_OPT_LOCAL_INFILE, true);
        $m->real_connect($host, $user, $pass, $db, $port);
        $m->set_charset('utf8mb4');
        return $m;
    };
    $a = $open();
    $b = $open();
    $a->query("DROP TABLE IF EXISTS $t");
    $a->query("CREATE TABLE $t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100), blob_v LONGBLOB)");
    $a->query("DROP PROCEDURE IF EXISTS {$t}_two");
    $a->query("CREATE PROCEDURE {$t}_two() BEGIN SELECT 1 AS one; SELECT COUNT(*) AS n FROM $t; END");
    $a->begin_transaction();
    $a->query("INSERT INTO $t (v) VALUES ('rolled back')");
    $a->rollback();
    $a->begin_transaction();
    $a->query("INSERT INTO $t (v) VALUES ('committed')");
    $a->commit();
    $rows = $a->query("SELECT v FROM $t")->fetch_all();
    check($rows === [['committed']], 'transactions');
    $ins = $a->prepare("INSERT INTO $t (v) VALUES (?)");
    for ($i = 0; $i < 5; $i++) {
        $v = "p$i";
        $ins->bind_param('s', $v);
        $ins->execute();
    }
    $cnt = $a->prepare("SELECT COUNT(*) FROM $t WHERE v LIKE ?");
    $like = 'p%';
    $cnt->bind_param('s', $like);
    $cnt->execute();
    check($cnt->get_result()->fetch_row()[0] == 5, 'prepared');
    $a->multi_query("CALL {$t}_two()");
    $first = $a->store_result()->fetch_row();
    $a->next_result();
    $second = $a->store_result()->fetch_row();
    while ($a->more_results()) {
        $a->next_result();
    }
    check($first[0] == 1 && $second[0] == 6, 'multi-results');
    $file = tempnam(sys_get_temp_dir(), 'infile');
    file_put_contents($file, "infile1\ninfile2\n");
    $a->query("LOAD DATA LOCAL INFILE '$file' INTO TABLE $t (v)");
    unlink($file);
    check($a->query("SELECT COUNT(*) FROM $t WHERE v LIKE 'infile%'")->fetch_row()[0] == 2, 'local infile');
    $big = random_bytes(4 << 20);
    $p = $a->prepare("INSERT INTO $t (v, blob_v) VALUES ('big', ?)");
    $null = null;
    $p->bind_param('b', $null);
    foreach (str_split($big, 1 << 20) as $chunk) {
        $p->send_long_data(0, $chunk);
    }
    $p->execute();
    $back = $a->query("SELECT blob_v FROM $t WHERE v = 'big'")->fetch_row()[0];
    check($back === $big, 'large value');
    for ($i = 0; $i < 20; $i++) {
        $a->query("INSERT INTO $t (v) VALUES ('cross$i')");
        $n = $b->query("SELECT COUNT(*) FROM $t WHERE v = 'cross$i'")->fetch_row()[0];
        check($n == 1, "the other connection missed write $i");
    }
    $a->query("DROP PROCEDURE {$t}_two");
    $a->query("DROP TABLE $t");
    echo "ok $mode\n";
    exit(0);
}

$emulate = $mode === 'pdo-emulated';
$open = function () use ($host, $port, $user, $pass, $db, $emulate) {
    return new PDO("mysql:host=$host;port=$port;dbname=$db;charset=utf8mb4", $user, $pass, [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_EMULATE_PREPARES => $emulate,
        PDO::MYSQL_ATTR_LOCAL_INFILE => true,
        PDO::MYSQL_ATTR_MULTI_STATEMENTS => true,
    ]);
};
$a = $open();
$b = $open();
$a->exec("DROP TABLE IF EXISTS $t");
$a->exec("CREATE TABLE $t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100), blob_v LONGBLOB)");
$a->exec("DROP PROCEDURE IF EXISTS {$t}_two");
$a->exec("CREATE PROCEDURE {$t}_two() BEGIN SELECT 1 AS one; SELECT COUNT(*) AS n FROM $t; END");
$a->beginTransaction();
$a->prepare("INSERT INTO $t (v) VALUES (?)")->execute(['rolled back']);
$a->rollBack();
$a->beginTransaction();
$a->prepare("INSERT INTO $t (v) VALUES (?)")->execute(['committed']);
$a->commit();
check($a->query("SELECT v FROM $t")->fetchAll(PDO::FETCH_COLUMN) === ['committed'], 'transactions');
$ins = $a->prepare("INSERT INTO $t (v) VALUES (?)");
for ($i = 0; $i < 5; $i++) {
    $ins->execute(["p$i"]);
}
$cnt = $a->prepare("SELECT COUNT(*) FROM $t WHERE v LIKE ?");
$cnt->execute(['p%']);
check($cnt->fetchColumn() == 5, 'prepared');
$call = $a->query("CALL {$t}_two()");
$first = $call->fetchColumn();
$call->nextRowset();
$second = $call->fetchColumn();
while ($call->nextRowset()) {
}
$call->closeCursor();
check($first == 1 && $second == 6, 'multi-results');
$file = tempnam(sys_get_temp_dir(), 'infile');
file_put_contents($file, "infile1\ninfile2\n");
$a->exec("LOAD DATA LOCAL INFILE '$file' INTO TABLE $t (v)");
unlink($file);
check($a->query("SELECT COUNT(*) FROM $t WHERE v LIKE 'infile%'")->fetchColumn() == 2, 'local infile');
$big = random_bytes(4 << 20);
$p = $a->prepare("INSERT INTO $t (v, blob_v) VALUES ('big', ?)");
$p->bindValue(1, $big, PDO::PARAM_LOB);
$p->execute();
check($a->query("SELECT blob_v FROM $t WHERE v = 'big'")->fetchColumn() === $big, 'large value');
$w = $a->prepare("INSERT INTO $t (v) VALUES (?)");
$r = $b->prepare("SELECT COUNT(*) FROM $t WHERE v = ?");
for ($i = 0; $i < 20; $i++) {
    $w->execute(["cross$i"]);
    $r->execute(["cross$i"]);
    check($r->fetchColumn() == 1, "the other connection missed write $i");
}
$a->exec("DROP PROCEDURE {$t}_two");
$a->exec("DROP TABLE $t");
echo "ok $mode\n";
