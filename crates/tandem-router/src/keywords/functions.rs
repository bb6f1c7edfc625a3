//! Function-call judgement: the allow-list of pure built-ins ([`PURE`]), the deny-list of
//! built-ins that need the writer, and the connection-bound system variables (policy in the
//! parent module's documentation).

use super::{key, upper_key};
use crate::StmtFlags;

/// How a function call affects routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FnClass {
    /// Known side-effect-free built-in (or SQL syntax that precedes a parenthesis).
    Pure,
    /// Known built-in that needs the writer, with the reason.
    Writer(StmtFlags),
    /// Not known: a stored function, a UDF, or a built-in missing from the allow-list.
    Unknown,
}

pub(super) const MAX_FN: usize = 40;

/// Upper-cases `name` into `buf`; `None` if too long.
fn upper<'b>(name: &[u8], buf: &'b mut [u8; MAX_FN]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..name.len())?;
    out.copy_from_slice(name);
    out.make_ascii_uppercase();
    Some(out)
}

/// Classifies the function (or keyword) `name` that is followed by `(`.
pub(crate) fn function_class(name: &[u8]) -> FnClass {
    if let Some(k) = upper_key(name) {
        if is_common_syntax(k) || PURE_KEYS.binary_search(&k).is_ok() {
            return FnClass::Pure;
        }
    }
    let mut buf = [0u8; MAX_FN];
    let Some(up) = upper(name, &mut buf) else {
        return FnClass::Unknown;
    };
    if up.len() > 16 && PURE.contains(&up) {
        return FnClass::Pure;
    }
    match impure(up) {
        Some(flags) => FnClass::Writer(flags),
        // Never by prefix: a stored function may be called `json_whatever`.
        None => FnClass::Unknown,
    }
}

/// The keywords that most often precede `(` in real queries, checked before the binary search.
fn is_common_syntax(k: u128) -> bool {
    const ON: u128 = key(b"ON");
    const IN: u128 = key(b"IN");
    const AND: u128 = key(b"AND");
    const OR: u128 = key(b"OR");
    const AS: u128 = key(b"AS");
    const FROM: u128 = key(b"FROM");
    const JOIN: u128 = key(b"JOIN");
    const WHERE: u128 = key(b"WHERE");
    const COUNT: u128 = key(b"COUNT");
    const IFNULL: u128 = key(b"IFNULL");
    const USING: u128 = key(b"USING");
    const EXISTS: u128 = key(b"EXISTS");
    const SELECT: u128 = key(b"SELECT");
    const NOT: u128 = key(b"NOT");
    matches!(
        k,
        ON | IN
            | AND
            | OR
            | AS
            | FROM
            | JOIN
            | WHERE
            | COUNT
            | IFNULL
            | USING
            | EXISTS
            | SELECT
            | NOT
    )
}

const fn count_short(list: &[&[u8]]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < list.len() {
        if list[i].len() <= 16 {
            n += 1;
        }
        i += 1;
    }
    n
}

const N_SHORT: usize = count_short(PURE);

/// [`key`]s of the allow-listed names of at most 16 bytes, in `PURE` (= sorted) order.
pub(super) static PURE_KEYS: [u128; N_SHORT] = {
    let mut keys = [0u128; N_SHORT];
    let (mut i, mut j) = (0, 0);
    while i < PURE.len() {
        if PURE[i].len() <= 16 {
            keys[j] = key(PURE[i]);
            j += 1;
        }
        i += 1;
    }
    keys
};

/// Allow-list lookup of an upper-cased name.
#[cfg(test)]
pub(super) fn is_pure(up: &[u8]) -> bool {
    match upper_key(up) {
        Some(k) => PURE_KEYS.binary_search(&k).is_ok(),
        None => PURE.contains(&up),
    }
}

/// The deny-list: built-ins that must run on the writer, and why.
fn impure(up: &[u8]) -> Option<StmtFlags> {
    Some(match up {
        b"LAST_INSERT_ID" => StmtFlags::LAST_INSERT_ID,
        b"FOUND_ROWS" => StmtFlags::FOUND_ROWS,
        b"ROW_COUNT" => StmtFlags::ROW_COUNT,
        b"GET_LOCK" => StmtFlags::LOCK_FUNC,
        b"RELEASE_LOCK" | b"RELEASE_ALL_LOCKS" => StmtFlags::RELEASE_LOCK,
        b"IS_FREE_LOCK" | b"IS_USED_LOCK" | b"CONNECTION_ID" | b"LOAD_FILE"
        | b"BINLOG_GTID_POS" => StmtFlags::NODE_LOCAL,
        b"NEXTVAL" | b"SETVAL" | b"LASTVAL" => StmtFlags::SEQUENCE,
        b"MASTER_POS_WAIT"
        | b"SOURCE_POS_WAIT"
        | b"MASTER_GTID_WAIT"
        | b"WAIT_FOR_EXECUTED_GTID_SET"
        | b"WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS" => StmtFlags::GTID_WAIT,
        _ => return None,
    })
}

/// System variables whose value is bound to the connection or node (`@@name`).
pub(crate) fn sysvar_is_node_local(name: &[u8]) -> Option<StmtFlags> {
    let mut buf = [0u8; MAX_FN];
    let up = upper(name, &mut buf)?;
    match up {
        b"IDENTITY" | b"LAST_INSERT_ID" | b"INSERT_ID" => Some(StmtFlags::LAST_INSERT_ID),
        b"WARNING_COUNT" | b"ERROR_COUNT" | b"LAST_GTID" | b"SERVER_ID" | b"SERVER_UUID"
        | b"HOSTNAME" | b"READ_ONLY" | b"SUPER_READ_ONLY" | b"PSEUDO_THREAD_ID"
        | b"LAST_QUERY_COST" | b"RAND_SEED1" | b"RAND_SEED2" | b"IN_TRANSACTION" => {
            Some(StmtFlags::NODE_LOCAL)
        }
        _ if up.starts_with(b"GTID_") || up.starts_with(b"WSREP_") => Some(StmtFlags::NODE_LOCAL),
        _ => None,
    }
}

/// Known-pure built-ins plus SQL keywords that may precede `(`. Sorted (checked by a test).
#[rustfmt::skip]
pub(super) const PURE: &[&[u8]] = &[
    b"ABS", b"ACOS", b"ADDDATE", b"ADDTIME", b"ADD_MONTHS", b"AES_DECRYPT", b"AES_ENCRYPT",
    b"AGAINST", b"ALL", b"AND", b"ANY", b"ANY_VALUE", b"AREA", b"ARRAY", b"AS", b"ASBINARY",
    b"ASC", b"ASCII", b"ASIN", b"ASTEXT", b"ASWKB", b"ASWKT", b"ATAN", b"ATAN2", b"AVG",
    b"BENCHMARK", b"BETWEEN", b"BIGINT", b"BIN", b"BINARY", b"BIT_AND", b"BIT_COUNT",
    b"BIT_LENGTH", b"BIT_OR", b"BIT_XOR", b"BOTH", b"BY", b"CASE", b"CAST", b"CEIL", b"CEILING",
    b"CHAR", b"CHARACTER_LENGTH", b"CHARSET", b"CHAR_LENGTH", b"CHR", b"COALESCE", b"COERCIBILITY",
    b"COLLATION", b"COLUMNS", b"COLUMN_ADD", b"COLUMN_CHECK", b"COLUMN_CREATE", b"COLUMN_DELETE",
    b"COLUMN_EXISTS", b"COLUMN_GET", b"COLUMN_JSON", b"COLUMN_LIST", b"COMPRESS", b"CONCAT",
    b"CONCAT_WS", b"CONTAINS", b"CONV", b"CONVERT", b"CONVERT_TZ", b"COS", b"COT", b"COUNT",
    b"CRC32", b"CRC32C", b"CROSS", b"CUBE", b"CUME_DIST", b"CURDATE", b"CURRENT_DATE",
    b"CURRENT_ROLE", b"CURRENT_SCHEMA", b"CURRENT_TIME", b"CURRENT_TIMESTAMP", b"CURRENT_USER",
    b"CURTIME", b"DATABASE", b"DATE", b"DATEDIFF", b"DATETIME", b"DATE_ADD", b"DATE_FORMAT",
    b"DATE_SUB", b"DAY", b"DAYNAME", b"DAYOFMONTH", b"DAYOFWEEK", b"DAYOFYEAR", b"DECIMAL",
    b"DECODE", b"DECODE_HISTOGRAM", b"DEFAULT", b"DEGREES", b"DENSE_RANK", b"DESC", b"DES_DECRYPT",
    b"DES_ENCRYPT", b"DIMENSION", b"DISJOINT", b"DISTINCT", b"DISTINCTROW", b"DIV", b"DOUBLE",
    b"DUAL", b"ELSE", b"ELT", b"ENCODE", b"ENCRYPT", b"END", b"ENDPOINT", b"ENVELOPE", b"EQUALS",
    b"ESCAPE", b"EXCEPT", b"EXISTS", b"EXP", b"EXPORT_SET", b"EXTERIORRING", b"EXTRACT",
    b"EXTRACTVALUE", b"FALSE", b"FETCH", b"FIELD", b"FIND_IN_SET", b"FIRST_VALUE", b"FLOAT",
    b"FLOOR", b"FORMAT", b"FORMAT_BYTES", b"FORMAT_PICO_TIME", b"FROM", b"FROM_BASE64",
    b"FROM_DAYS", b"FROM_UNIXTIME", b"GEOMETRYCOLLECTION", b"GEOMETRYN", b"GEOMETRYTYPE",
    b"GET_FORMAT", b"GLENGTH", b"GREATEST", b"GROUP", b"GROUPING", b"GROUP_CONCAT", b"HAVING",
    b"HEX", b"HIGH_PRIORITY", b"HOUR", b"IF", b"IFNULL", b"IGNORE", b"IN", b"INDEX", b"INET6_ATON",
    b"INET6_NTOA", b"INET_ATON", b"INET_NTOA", b"INNER", b"INSERT", b"INSTR", b"INT", b"INTEGER",
    b"INTERIORRINGN", b"INTERSECT", b"INTERSECTS", b"INTERVAL", b"IS", b"ISCLOSED", b"ISEMPTY",
    b"ISNULL", b"ISSIMPLE", b"IS_IPV4", b"IS_IPV4_COMPAT", b"IS_IPV4_MAPPED", b"IS_IPV6",
    b"IS_UUID", b"JOIN", b"JSON", b"JSON_ARRAY", b"JSON_ARRAYAGG", b"JSON_ARRAY_APPEND",
    b"JSON_ARRAY_INSERT", b"JSON_COMPACT", b"JSON_CONTAINS", b"JSON_CONTAINS_PATH", b"JSON_DEPTH",
    b"JSON_DETAILED", b"JSON_EQUALS", b"JSON_EXISTS", b"JSON_EXTRACT", b"JSON_INSERT",
    b"JSON_KEYS", b"JSON_LENGTH", b"JSON_LOOSE", b"JSON_MERGE", b"JSON_MERGE_PATCH",
    b"JSON_MERGE_PRESERVE", b"JSON_NORMALIZE", b"JSON_OBJECT", b"JSON_OBJECTAGG", b"JSON_OVERLAPS",
    b"JSON_PRETTY", b"JSON_QUERY", b"JSON_QUOTE", b"JSON_REMOVE", b"JSON_REPLACE",
    b"JSON_SCHEMA_VALID", b"JSON_SEARCH", b"JSON_SET", b"JSON_STORAGE_FREE", b"JSON_STORAGE_SIZE",
    b"JSON_TABLE", b"JSON_TYPE", b"JSON_UNQUOTE", b"JSON_VALID", b"JSON_VALUE", b"KDF", b"KEY",
    b"LAG", b"LAST_DAY", b"LAST_VALUE", b"LATERAL", b"LCASE", b"LEAD", b"LEADING", b"LEAST",
    b"LEFT", b"LENGTH", b"LENGTHB", b"LIKE", b"LIMIT", b"LINESTRING", b"LN", b"LOCALTIME",
    b"LOCALTIMESTAMP", b"LOCATE", b"LOG", b"LOG10", b"LOG2", b"LOWER", b"LPAD", b"LTRIM",
    b"MAKEDATE", b"MAKETIME", b"MAKE_SET", b"MATCH", b"MAX", b"MBRCONTAINS", b"MBRCOVEREDBY",
    b"MBRCOVERS", b"MBRDISJOINT", b"MBREQUAL", b"MBREQUALS", b"MBRINTERSECTS", b"MBROVERLAPS",
    b"MBRTOUCHES", b"MBRWITHIN", b"MD5", b"MEDIAN", b"MEMBER", b"MICROSECOND", b"MID", b"MIN",
    b"MINUTE", b"MOD", b"MONTH", b"MONTHNAME", b"MONTHS_BETWEEN", b"MULTILINESTRING",
    b"MULTIPOINT", b"MULTIPOLYGON", b"NAME_CONST", b"NATURAL_SORT_KEY", b"NCHAR", b"NOT", b"NOW",
    b"NTH_VALUE", b"NTILE", b"NULL", b"NULLIF", b"NUMERIC", b"NUMGEOMETRIES", b"NUMINTERIORRINGS",
    b"NUMPOINTS", b"NVL", b"NVL2", b"OCT", b"OCTET_LENGTH", b"OF", b"OFFSET", b"OLD_PASSWORD",
    b"ON", b"OR", b"ORD", b"ORDER", b"OUTER", b"OVER", b"OVERLAPS", b"PARTITION", b"PASSWORD",
    b"PATH", b"PERCENTILE_CONT", b"PERCENTILE_DISC", b"PERCENT_RANK", b"PERIOD_ADD",
    b"PERIOD_DIFF", b"PI", b"POINT", b"POINTN", b"POLYGON", b"POSITION", b"POW", b"POWER",
    b"QUARTER", b"QUOTE", b"RADIANS", b"RAND", b"RANDOM_BYTES", b"RANK", b"REAL", b"REGEXP",
    b"REGEXP_INSTR", b"REGEXP_LIKE", b"REGEXP_REPLACE", b"REGEXP_SUBSTR", b"REPEAT", b"REPLACE",
    b"REVERSE", b"RIGHT", b"RLIKE", b"ROLLUP", b"ROUND", b"ROW", b"ROWNUM", b"ROWS", b"ROW_NUMBER",
    b"RPAD", b"RTRIM", b"SCHEMA", b"SECOND", b"SEC_TO_TIME", b"SELECT", b"SESSION_USER", b"SETS",
    b"SFORMAT", b"SHA", b"SHA1", b"SHA2", b"SIGN", b"SIGNED", b"SIN", b"SLEEP", b"SOME",
    b"SOUNDEX", b"SOUNDS", b"SPACE", b"SQL_CACHE", b"SQL_NO_CACHE", b"SQRT", b"SRID",
    b"STARTPOINT", b"STD", b"STDDEV", b"STDDEV_POP", b"STDDEV_SAMP", b"STRAIGHT_JOIN", b"STRCMP",
    b"STR_TO_DATE", b"ST_AREA", b"ST_ASBINARY", b"ST_ASGEOJSON", b"ST_ASTEXT", b"ST_ASWKB",
    b"ST_ASWKT", b"ST_BOUNDARY", b"ST_BUFFER", b"ST_CENTROID", b"ST_CONTAINS", b"ST_CONVEXHULL",
    b"ST_CROSSES", b"ST_DIFFERENCE", b"ST_DIMENSION", b"ST_DISJOINT", b"ST_DISTANCE",
    b"ST_DISTANCE_SPHERE", b"ST_ENDPOINT", b"ST_ENVELOPE", b"ST_EQUALS", b"ST_EXTERIORRING",
    b"ST_GEOMCOLLFROMTEXT", b"ST_GEOMCOLLFROMWKB", b"ST_GEOMETRYCOLLECTIONFROMTEXT",
    b"ST_GEOMETRYCOLLECTIONFROMWKB", b"ST_GEOMETRYFROMTEXT", b"ST_GEOMETRYFROMWKB",
    b"ST_GEOMETRYN", b"ST_GEOMETRYTYPE", b"ST_GEOMFROMGEOJSON", b"ST_GEOMFROMTEXT",
    b"ST_GEOMFROMWKB", b"ST_INTERIORRINGN", b"ST_INTERSECTION", b"ST_INTERSECTS", b"ST_ISCLOSED",
    b"ST_ISEMPTY", b"ST_ISRING", b"ST_ISSIMPLE", b"ST_ISVALID", b"ST_LATITUDE", b"ST_LENGTH",
    b"ST_LINEFROMTEXT", b"ST_LINEFROMWKB", b"ST_LINESTRINGFROMTEXT", b"ST_LINESTRINGFROMWKB",
    b"ST_LONGITUDE", b"ST_MLINEFROMTEXT", b"ST_MPOINTFROMTEXT", b"ST_MPOLYFROMTEXT",
    b"ST_NUMGEOMETRIES", b"ST_NUMINTERIORRINGS", b"ST_NUMPOINTS", b"ST_OVERLAPS",
    b"ST_POINTFROMTEXT", b"ST_POINTFROMWKB", b"ST_POINTN", b"ST_POINTONSURFACE",
    b"ST_POLYFROMTEXT", b"ST_POLYFROMWKB", b"ST_POLYGONFROMTEXT", b"ST_POLYGONFROMWKB",
    b"ST_RELATE", b"ST_SIMPLIFY", b"ST_SRID", b"ST_STARTPOINT", b"ST_SYMDIFFERENCE", b"ST_TOUCHES",
    b"ST_UNION", b"ST_VALIDATE", b"ST_WITHIN", b"ST_X", b"ST_Y", b"SUBDATE", b"SUBSTR",
    b"SUBSTRING", b"SUBSTRING_INDEX", b"SUBTIME", b"SUM", b"SYSDATE", b"SYSTEM_TIME",
    b"SYSTEM_USER", b"SYS_GUID", b"TAN", b"THEN", b"TIME", b"TIMEDIFF", b"TIMESTAMP",
    b"TIMESTAMPADD", b"TIMESTAMPDIFF", b"TIME_FORMAT", b"TIME_TO_SEC", b"TOUCHES", b"TO_BASE64",
    b"TO_CHAR", b"TO_DAYS", b"TO_NUMBER", b"TO_SECONDS", b"TRAILING", b"TRIM", b"TRUE", b"TRUNC",
    b"TRUNCATE", b"UCASE", b"UNCOMPRESS", b"UNCOMPRESSED_LENGTH", b"UNHEX", b"UNION",
    b"UNIX_TIMESTAMP", b"UNKNOWN", b"UNSIGNED", b"UPDATEXML", b"UPPER", b"USER", b"USING",
    b"UTC_DATE", b"UTC_TIME", b"UTC_TIMESTAMP", b"UUID", b"UUID_SHORT", b"VALUES", b"VARCHAR",
    b"VARIANCE", b"VAR_POP", b"VAR_SAMP", b"VERSION", b"WEEK", b"WEEKDAY", b"WEEKOFYEAR",
    b"WEIGHT_STRING", b"WHEN", b"WHERE", b"WINDOW", b"WITH", b"WITHIN", b"X", b"XOR", b"Y",
    b"YEAR", b"YEARWEEK",
];
