// A JDBC driver through Tandem (MariaDB Connector/J from Debian's libmariadb-java, run as a
// single-file program): transactions, server-side prepared statements, a procedure with two
// result sets, LOCAL INFILE, a 4 MiB value, and a write on one connection read at once on
// another. Connection from TANDEM_* variables; prints "ok jdbc".
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.sql.*;
import java.util.Arrays;
import java.util.Random;

public class JdbcCheck {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null ? dflt : v;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:mariadb://" + env("TANDEM_HOST", "127.0.0.1") + ":" + env("TANDEM_PORT", "3306")
            + "/" + env("TANDEM_DB", "shop") + "?useServerPrepStmts=true&allowLocalInfile=true"
            + "&allowMultiQueries=true";
        String user = env("TANDEM_USER", "app"), pass = env("TANDEM_PASSWORD", "apppass");
        String t = "drv_jdbc";
        try (Connection a = DriverManager.getConnection(url, user, pass);
             Connection b = DriverManager.getConnection(url, user, pass);
             Statement s = a.createStatement()) {
            s.execute("DROP TABLE IF EXISTS " + t);
            s.execute("CREATE TABLE " + t + " (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100), blob_v LONGBLOB)");
            s.execute("DROP PROCEDURE IF EXISTS " + t + "_two");
            s.execute("CREATE PROCEDURE " + t + "_two() BEGIN SELECT 1 AS one; SELECT COUNT(*) AS n FROM " + t + "; END");

            a.setAutoCommit(false);
            try (PreparedStatement p = a.prepareStatement("INSERT INTO " + t + " (v) VALUES (?)")) {
                p.setString(1, "rolled back");
                p.executeUpdate();
                a.rollback();
                p.setString(1, "committed");
                p.executeUpdate();
                a.commit();
            }
            a.setAutoCommit(true);
            try (ResultSet r = s.executeQuery("SELECT v FROM " + t)) {
                check(r.next() && r.getString(1).equals("committed") && !r.next(), "transactions");
            }

            try (PreparedStatement p = a.prepareStatement("INSERT INTO " + t + " (v) VALUES (?)")) {
                for (int i = 0; i < 5; i++) {
                    p.setString(1, "p" + i);
                    p.executeUpdate();
                }
            }
            try (PreparedStatement p = a.prepareStatement("SELECT COUNT(*) FROM " + t + " WHERE v LIKE ?")) {
                p.setString(1, "p%");
                try (ResultSet r = p.executeQuery()) {
                    check(r.next() && r.getInt(1) == 5, "prepared");
                }
            }

            try (CallableStatement c = a.prepareCall("{CALL " + t + "_two()}")) {
                check(c.execute(), "a result set");
                try (ResultSet r = c.getResultSet()) {
                    check(r.next() && r.getInt(1) == 1, "first result");
                }
                check(c.getMoreResults(), "a second result set");
                try (ResultSet r = c.getResultSet()) {
                    check(r.next() && r.getInt(1) == 6, "second result");
                }
            }

            org.mariadb.jdbc.MariaDbStatement ms = s.unwrap(org.mariadb.jdbc.MariaDbStatement.class);
            ms.setLocalInfileInputStream(new ByteArrayInputStream("infile1\ninfile2\n".getBytes(StandardCharsets.UTF_8)));
            s.execute("LOAD DATA LOCAL INFILE 'data.tsv' INTO TABLE " + t + " (v)");
            try (ResultSet r = s.executeQuery("SELECT COUNT(*) FROM " + t + " WHERE v LIKE 'infile%'")) {
                check(r.next() && r.getInt(1) == 2, "local infile");
            }

            byte[] big = new byte[4 << 20];
            new Random(7).nextBytes(big);
            try (PreparedStatement p = a.prepareStatement("INSERT INTO " + t + " (v, blob_v) VALUES ('big', ?)")) {
                p.setBytes(1, big);
                p.executeUpdate();
            }
            try (ResultSet r = s.executeQuery("SELECT blob_v FROM " + t + " WHERE v = 'big'")) {
                check(r.next() && Arrays.equals(r.getBytes(1), big), "large value");
            }

            try (PreparedStatement w = a.prepareStatement("INSERT INTO " + t + " (v) VALUES (?)");
                 PreparedStatement q = b.prepareStatement("SELECT COUNT(*) FROM " + t + " WHERE v = ?")) {
                for (int i = 0; i < 20; i++) {
                    w.setString(1, "cross" + i);
                    w.executeUpdate();
                    q.setString(1, "cross" + i);
                    try (ResultSet r = q.executeQuery()) {
                        check(r.next() && r.getInt(1) == 1, "the other connection missed write " + i);
                    }
                }
            }
            s.execute("DROP PROCEDURE " + t + "_two");
            s.execute("DROP TABLE " + t);
        }
        System.out.println("ok jdbc");
    }
}
