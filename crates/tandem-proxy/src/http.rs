//! The admin HTTP interface (`[http]`): the stats page, Prometheus metrics, JSON status, and the
//! operator's actions (drain, ready, weights, switchover, reload). HAProxy's stats page, with the
//! replication truth HAProxy cannot see.
//!
//! Every request needs HTTP basic auth with the configured user; the listener is loopback unless
//! `allow_remote`. Answers are small and built from the same state the sessions use: the
//! monitor's snapshot, the pools and the counters.

mod metrics;
mod page;
mod status;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tandem_monitor::{Operation, OperatorError};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::config::HttpConfig;
use crate::shared::Shared;

pub use status::Status;

/// Admin connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 32;
/// Largest request body (a reload or weight request is a few bytes).
const MAX_BODY: usize = 16 * 1024;
/// A client must send its request headers within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

type Reply = Response<Full<Bytes>>;

/// Serves the admin HTTP interface on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, config: HttpConfig, shared: Arc<Shared>) {
    let tls = config.tls;
    let expected: Arc<str> = format!("{}:{}", config.user, config.password).into();
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "http accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let shared = shared.clone();
        let expected = expected.clone();
        let tls = tls.then(|| shared.server_tls.load_full()).flatten();
        tokio::spawn(async move {
            let stream = match tls {
                Some(tls) => {
                    let accepted = tls.accept(stream, Bytes::new());
                    match tokio::time::timeout(HEADER_TIMEOUT, accepted).await {
                        Ok(Ok(s)) => s,
                        _ => return,
                    }
                }
                None => tandem_backend::Stream::Plain(stream),
            };
            let svc = service_fn(move |req| {
                let shared = shared.clone();
                let expected = expected.clone();
                async move { Ok::<_, Infallible>(handle(req, &shared, &expected, peer).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            let _ = conn.await;
            drop(permit);
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    shared: &Shared,
    expected: &str,
    peer: SocketAddr,
) -> Reply {
    if !authorized(&req, expected) {
        let mut r = text(StatusCode::UNAUTHORIZED, "authentication required\n");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Tandem\", charset=\"UTF-8\""),
        );
        return r;
    }
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let method = req.method().clone();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, parts.as_slice()) {
        (&Method::GET, [""]) => html(page::render(&Status::collect(shared))),
        (&Method::GET, ["status"]) => json(&Status::collect(shared)),
        (&Method::GET, ["metrics"]) => {
            let mut r = text(StatusCode::OK, &metrics::render(&Status::collect(shared)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            r
        }
        (&Method::GET, ["digests"]) => json(&shared.digests.top(digest_limit(&query))),
        (&Method::POST, _) => {
            let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"),
            };
            let action = post(shared, &parts, &query, &body).await;
            info!(%peer, path = %path, status = action.status().as_u16(), "admin http action");
            action
        }
        (&Method::GET, _) => text(StatusCode::NOT_FOUND, "no such page\n"),
        _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
    }
}

/// The POST actions.
async fn post(shared: &Shared, parts: &[&str], query: &str, body: &[u8]) -> Reply {
    let op = match parts {
        ["nodes", node, "drain"] => Operation::Drain((*node).to_owned()),
        ["nodes", node, "ready"] => Operation::Ready((*node).to_owned()),
        ["nodes", node, "weight"] => {
            let args = form(query, body);
            match weights(&args) {
                Ok((weight, read_weight)) => Operation::Weigh {
                    node: (*node).to_owned(),
                    weight,
                    read_weight,
                },
                Err(msg) => return text(StatusCode::BAD_REQUEST, &msg),
            }
        }
        ["writer", node] => Operation::SetWriter((*node).to_owned()),
        ["reload"] => {
            return match crate::reload::reload(shared).await {
                Ok(report) => json(&report),
                Err(e) => text(StatusCode::UNPROCESSABLE_ENTITY, &format!("{e}\n")),
            };
        }
        _ => return text(StatusCode::NOT_FOUND, "no such action\n"),
    };
    match shared.operate(op).await {
        Ok(()) => json(&Status::collect(shared)),
        Err(e) => {
            let code = match e {
                OperatorError::NoSuchNode(_) => StatusCode::NOT_FOUND,
                OperatorError::MonitorStopped => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::CONFLICT,
            };
            text(code, &format!("{e}\n"))
        }
    }
}

/// `weight=N` and `read_weight=N|default` from the query string or a form body.
fn weights(args: &[(String, String)]) -> Result<(Option<u32>, Option<Option<u32>>), String> {
    let mut weight = None;
    let mut read_weight = None;
    for (k, v) in args {
        match k.as_str() {
            "weight" => match v.parse::<u32>() {
                Ok(w) if w >= 1 => weight = Some(w),
                _ => return Err(format!("weight must be a whole number ≥ 1, not `{v}`\n")),
            },
            "read_weight" if v == "default" => read_weight = Some(None),
            "read_weight" => match v.parse::<u32>() {
                Ok(w) => read_weight = Some(Some(w)),
                _ => {
                    return Err(format!(
                        "read_weight must be a whole number or `default`, not `{v}`\n"
                    ))
                }
            },
            other => {
                return Err(format!(
                    "unknown parameter `{other}` (weight, read_weight)\n"
                ))
            }
        }
    }
    if weight.is_none() && read_weight.is_none() {
        return Err("give weight=N and/or read_weight=N\n".to_owned());
    }
    Ok((weight, read_weight))
}

/// `a=1&b=2` pairs from the query string and an `application/x-www-form-urlencoded` body.
fn form(query: &str, body: &[u8]) -> Vec<(String, String)> {
    let body = std::str::from_utf8(body).unwrap_or("");
    query
        .split('&')
        .chain(body.trim().split('&'))
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

fn digest_limit(query: &str) -> usize {
    form(query, b"")
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(50)
}

/// Basic auth against `user:password`, compared in constant time.
fn authorized(req: &Request<Incoming>, expected: &str) -> bool {
    use base64::Engine;
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return false;
    };
    let Some(b64) = value.to_str().ok().and_then(|v| v.strip_prefix("Basic ")) else {
        return false;
    };
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let expected = expected.as_bytes();
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

fn text(status: StatusCode, body: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    no_store(r)
}

fn html(body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    no_store(r)
}

fn json<T: serde::Serialize>(value: &T) -> Reply {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            no_store(r)
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
    }
}

fn no_store(mut r: Reply) -> Reply {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_arguments() {
        let args = form("weight=10", b"read_weight=default");
        assert_eq!(weights(&args), Ok((Some(10), Some(None))));
        assert_eq!(
            weights(&form("read_weight=3", b"")),
            Ok((None, Some(Some(3))))
        );
        assert!(weights(&form("weight=0", b"")).is_err());
        assert!(weights(&form("", b"")).is_err());
        assert!(weights(&form("colour=red", b"")).is_err());
    }
}
