//! Protocol messages, one per module, each with a symmetric `parse` / `encode`.

pub mod auth_more_data;
pub mod auth_switch;
pub mod change_user;
pub mod column_count;
pub mod column_definition;
pub mod command;
pub mod eof;
pub mod err;
pub mod handshake;
pub mod handshake_response;
pub mod ok;
pub mod query;
pub mod row;
pub mod session_state;
pub mod ssl_request;
pub mod stmt;
pub mod stmt_prepare_ok;
