//! The HTTP/1.x side of `--serve`: what a client's request head says, and the answers that
//! need no collection. Pure: bytes in, a request or an answer out.

use std::sync::Arc;

/// The most bytes a request line and its headers may take.
pub const HEAD_LIMIT: usize = 8 * 1024;
/// The most header lines a request may have.
const MAX_HEADERS: usize = 64;

/// A request line and headers, as far as this server cares: what to do, and to which path.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The head has not ended yet and is still within [`HEAD_LIMIT`].
    Incomplete,
    Request(Request),
    /// Not an HTTP/1.x request this server accepts; the reason goes into the 400.
    Invalid(&'static str),
}

/// Parse the start of what a client sent: a request line and headers ending in an empty line
/// (CRLF, or bare LF as RFC 9112 allows). Bodies are never read.
pub fn parse_request(received: &[u8]) -> Parsed {
    let total = received.len();
    // Empty lines before the request line are to be ignored (RFC 9112 2.2).
    let start = received
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(received.len());
    let received = &received[start..];
    if total > HEAD_LIMIT && head_length(received).is_none_or(|len| len > HEAD_LIMIT) {
        return Parsed::Invalid("request line and headers over 8 KiB");
    }
    let Some(head_len) = head_length(received) else {
        // A request line already known to be wrong need not wait for the rest.
        if let Some(line_end) = received.iter().position(|&b| b == b'\n')
            && let Err(why) = parse_request_line(trim_cr(&received[..line_end]))
        {
            return Parsed::Invalid(why);
        }
        return Parsed::Incomplete;
    };
    let mut lines = received[..head_len]
        .split(|&b| b == b'\n')
        .map(trim_cr)
        .filter(|line| !line.is_empty());
    let Some(request_line) = lines.next() else {
        return Parsed::Invalid("no request line");
    };
    let request = match parse_request_line(request_line) {
        Ok(request) => request,
        Err(why) => return Parsed::Invalid(why),
    };
    let mut headers = 0;
    for line in lines {
        headers += 1;
        if headers > MAX_HEADERS {
            return Parsed::Invalid("too many headers");
        }
        if let Err(why) = check_header(line) {
            return Parsed::Invalid(why);
        }
    }
    Parsed::Request(request)
}

/// [`parse_request`] for the fuzzers (`rnetstat::fuzzing`): what it made of `received`.
pub fn parse_request_debug(received: &[u8]) -> String {
    format!("{:?}", parse_request(received))
}

/// Where the head ends (after its first empty line), if it has.
fn head_length(received: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (at, &byte) in received.iter().enumerate() {
        if byte == b'\n' {
            if at > 0 && trim_cr(&received[line_start..at]).is_empty() {
                return Some(at + 1);
            }
            line_start = at + 1;
        }
    }
    None
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_request_line(line: &[u8]) -> Result<Request, &'static str> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the request line is not METHOD TARGET VERSION");
    };
    if method.is_empty() || method.len() > 16 || !method.iter().all(|&b| is_token(b)) {
        return Err("not a method");
    }
    if !target.starts_with(b"/")
        || target.len() > 2048
        || !target.iter().all(|&b| b.is_ascii_graphic())
    {
        return Err("the target is not a path");
    }
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return Err("not HTTP/1.0 or HTTP/1.1");
    }
    // Checked as ASCII above: these cannot fail, but OS-free input gets no unwrap either.
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    Ok(Request {
        method: text(method),
        target: text(target),
    })
}

fn check_header(line: &[u8]) -> Result<(), &'static str> {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err("a header line without a colon");
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // A name followed by whitespace, or a line folded onto the last, is refused (RFC 9112 5.1, 5.2).
    if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
        return Err("not a header name");
    }
    if value
        .iter()
        .any(|&b| (b.is_ascii_control() && b != b'\t') || b == 0x7f)
    {
        return Err("a control character in a header value");
    }
    Ok(())
}

/// RFC 9110's `tchar`: what methods and header names are made of.
fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Metrics,
    Index,
    NotFound,
    MethodNotAllowed,
}

/// What a request asks for: the path decides first (404), then the method (405).
pub fn route(method: &str, target: &str) -> Route {
    let path = target.split(['?', '#']).next().unwrap_or(target);
    let page = match path {
        "/metrics" => Route::Metrics,
        "/" => Route::Index,
        _ => return Route::NotFound,
    };
    if method == "GET" || method == "HEAD" {
        page
    } else {
        Route::MethodNotAllowed
    }
}

/// The answer to a route, or `None` for `/metrics`, which waits for a collection.
pub fn answer(route: Route) -> Option<Answer> {
    Some(match route {
        Route::Metrics => return None,
        Route::Index => Answer::text(
            200,
            &format!(
                "rnetstat {}: socket metrics for Prometheus.\n\n\
                 /metrics  the exposition (text format 0.0.4), collected at most once per --interval\n",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        Route::NotFound => Answer::text(404, "not found: try /metrics\n"),
        Route::MethodNotAllowed => Answer {
            allow: true,
            ..Answer::text(405, "only GET and HEAD\n")
        },
    })
}

pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    /// Whether to say `Allow: GET, HEAD` (405).
    pub allow: bool,
    pub body: Arc<Vec<u8>>,
}

impl Answer {
    pub fn text(status: u16, text: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            allow: false,
            body: Arc::new(text.as_bytes().to_vec()),
        }
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Status line and headers; `Content-Length` is the body's also for HEAD (RFC 9110 8.6).
    pub fn head(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "",
        };
        let allow = if self.allow {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body().len()
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str) -> Parsed {
        Parsed::Request(Request {
            method: method.to_string(),
            target: target.to_string(),
        })
    }

    #[test]
    fn a_complete_get_is_a_request() {
        assert_eq!(
            parse_request(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"),
            request("GET", "/metrics")
        );
        assert_eq!(
            parse_request(b"HEAD /?a=b HTTP/1.0\r\n\r\n"),
            request("HEAD", "/?a=b")
        );
    }

    #[test]
    fn bare_line_feeds_and_leading_empty_lines_are_accepted() {
        assert_eq!(
            parse_request(b"\r\n\nGET /metrics HTTP/1.1\nHost: x\n\n"),
            request("GET", "/metrics")
        );
    }

    #[test]
    fn a_body_after_the_head_is_not_read() {
        assert_eq!(
            parse_request(b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
            request("POST", "/metrics")
        );
    }

    #[test]
    fn a_head_not_yet_ended_is_incomplete() {
        for partial in [
            &b""[..],
            b"\r\n",
            b"GET /metr",
            b"GET /metrics HTTP/1.1\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r",
        ] {
            assert_eq!(
                parse_request(partial),
                Parsed::Incomplete,
                "{:?}",
                String::from_utf8_lossy(partial)
            );
        }
    }

    #[test]
    fn garbage_is_invalid() {
        for garbage in [
            &b"\x01\x02 what is this\r\n\r\n"[..],
            b"GET\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1 extra\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET http://host/metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/2.0\r\n\r\n",
            b"GET /met\x00rics HTTP/1.1\r\n\r\n",
            b"G\xc3\xa9T /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nX: a\x1bb\r\n\r\n",
        ] {
            assert!(
                matches!(parse_request(garbage), Parsed::Invalid(_)),
                "{:?}",
                String::from_utf8_lossy(garbage)
            );
        }
    }

    #[test]
    fn a_wrong_request_line_is_invalid_before_the_head_ends() {
        assert!(matches!(
            parse_request(b"\x16\x03\x01 tls hello\r\n"),
            Parsed::Invalid(_)
        ));
    }

    #[test]
    fn a_head_over_the_limit_is_invalid_complete_or_not() {
        let mut long = b"GET /metrics HTTP/1.1\r\nX-Long: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', HEAD_LIMIT));
        assert!(matches!(parse_request(&long), Parsed::Invalid(_)));
        long.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(parse_request(&long), Parsed::Invalid(_)));
        let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(HEAD_LIMIT));
        assert!(matches!(
            parse_request(long_line.as_bytes()),
            Parsed::Invalid(_)
        ));
    }

    #[test]
    fn too_many_headers_are_invalid() {
        let mut head = b"GET /metrics HTTP/1.1\r\n".to_vec();
        for n in 0..=MAX_HEADERS {
            head.extend_from_slice(format!("X-{n}: y\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        assert!(matches!(parse_request(&head), Parsed::Invalid(_)));
    }

    #[test]
    fn routes_by_path_then_method() {
        assert_eq!(route("GET", "/metrics"), Route::Metrics);
        assert_eq!(route("HEAD", "/metrics?x=1"), Route::Metrics);
        assert_eq!(route("GET", "/"), Route::Index);
        assert_eq!(route("GET", "/nope"), Route::NotFound);
        assert_eq!(route("GET", "/metrics/"), Route::NotFound);
        assert_eq!(route("POST", "/nope"), Route::NotFound);
        assert_eq!(route("POST", "/metrics"), Route::MethodNotAllowed);
        assert_eq!(route("DELETE", "/"), Route::MethodNotAllowed);
    }

    #[test]
    fn a_head_answer_states_the_body_length_and_allow_only_for_405() {
        let not_allowed = answer(Route::MethodNotAllowed).unwrap();
        let head = String::from_utf8(not_allowed.head()).unwrap();
        assert!(head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(head.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(head.contains(&format!(
            "\r\nContent-Length: {}\r\n",
            not_allowed.body().len()
        )));
        assert!(head.ends_with("\r\nConnection: close\r\n\r\n"));
        let missing = answer(Route::NotFound).unwrap();
        assert!(!String::from_utf8(missing.head()).unwrap().contains("Allow"));
    }
}
