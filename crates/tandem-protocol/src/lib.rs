//! tandem-protocol: the sans-IO MySQL/MariaDB wire codec (framing, messages, auth, response streams).
