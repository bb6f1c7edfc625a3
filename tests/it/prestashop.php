<?php
// PrestaShop-style pages through Tandem with PDO (server-side prepares) and mysqli.
// Usage: php prestashop.php PORT PAGES ; prints "ok <pages> <first_id> <last_id>" or exits 1.
[$_, $port, $pages] = $argv;
$ids = [];
for ($i = 0; $i < (int)$pages; $i++) {
    $pdo = new PDO("mysql:host=127.0.0.1;port=$port;dbname=shop;charset=utf8mb4", 'app', 'apppass', [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_EMULATE_PREPARES => false,
    ]);
    $pdo->query('SELECT id_product, name FROM ps_product ORDER BY id_product')->fetchAll();
    $st = $pdo->prepare('SELECT name FROM ps_product WHERE id_product = ?');
    $st->execute([2]);
    if ($st->fetchColumn() !== 'shirt') { fwrite(STDERR, "wrong product\n"); exit(1); }
    $ins = $pdo->prepare('INSERT INTO ps_orders (id_customer, total, created) VALUES (?, ?, NOW())');
    $ins->execute([$i, '9.90']);
    $id = (int)$pdo->lastInsertId();
    $id2 = (int)$pdo->query('SELECT LAST_INSERT_ID()')->fetchColumn();
    if ($id !== $id2 || $id <= 0) { fwrite(STDERR, "LAST_INSERT_ID mismatch $id $id2\n"); exit(1); }
    $pdo->prepare('INSERT INTO ps_order_detail (id_order, product) VALUES (?, ?)')->execute([$id, 'mug']);
    $pdo->beginTransaction();
    $pdo->prepare('UPDATE ps_orders SET total = total + 1 WHERE id_order = ?')->execute([$id]);
    $pdo->commit();
    $ids[] = $id;
    $pdo = null;
}
$m = new mysqli('127.0.0.1', 'app', 'apppass', 'shop', (int)$port);
$m->set_charset('utf8mb4');
$m->query("INSERT INTO ps_orders (id_customer, total, created) VALUES (999, 1.00, NOW())");
$mid = $m->insert_id;
$r = $m->query("SELECT COUNT(*) FROM ps_orders")->fetch_row();
if ($mid <= 0 || (int)$r[0] < count($ids) + 1) { fwrite(STDERR, "mysqli failed\n"); exit(1); }
$ids[] = $mid;
if (count(array_unique($ids)) !== count($ids)) { fwrite(STDERR, "duplicate ids\n"); exit(1); }
echo "ok " . count($ids) . " " . min($ids) . " " . max($ids) . "\n";
