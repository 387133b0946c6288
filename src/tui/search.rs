//! The `/` text: an expression of the filter language when it parses, else a plain search.

use std::cell::OnceCell;

use super::rows::{EndpointNames, Row};
use crate::filter::Filter;
use crate::filter::eval::Owners;
use crate::filter::parse::{parse, split_words};
use crate::format::escaped;
use crate::model::Proto;
use crate::services::Services;

/// What the `/` text keeps. Text that parses as a filter (docs/filters.md) is an expression;
/// any other text, such as a word still being typed, is a plain search.
#[derive(Debug)]
pub enum Matcher {
    /// No text: every row.
    Everything,
    Expression(Filter),
    /// Every word must match the row.
    Search {
        words: Vec<SearchWord>,
        /// Why the text is not an expression (escaped, one line).
        error: String,
    },
}

/// One word of a plain search.
#[derive(Debug, PartialEq, Eq)]
pub enum SearchWord {
    /// Digits: a port at either end, or an owner's pid, exactly (`8080` is not 58080).
    Number(u32),
    /// `:digits`: a port at either end, exactly (`:4444` is not :44448).
    Port(u16),
    /// Anything else, lower case: part of the row's search text. When it ends in `:digits`
    /// (an address and port), the port ends there too: `127.0.0.1:22` is not 127.0.0.1:2222.
    Text { text: String, ends_in_port: bool },
}

impl Matcher {
    pub fn of(text: &str, services: &Services, protos: &[Proto]) -> Matcher {
        let words = split_words(&[text]);
        if words.is_empty() {
            return Matcher::Everything;
        }
        match parse(&words, services, protos) {
            Ok(filter) => Matcher::Expression(filter),
            Err(e) => Matcher::Search {
                words: text.split_whitespace().map(SearchWord::of).collect(),
                error: format!("word {}: {}", e.word, escaped(&e.message)),
            },
        }
    }

    pub fn matches(&self, row: &Row, owners: Owners<'_>, names: &EndpointNames) -> bool {
        match self {
            Matcher::Everything => true,
            Matcher::Expression(filter) => filter.matches(&row.socket, owners),
            Matcher::Search { words, .. } => {
                // Made once per row, and only when a word needs the text.
                let text = OnceCell::new();
                let text = || {
                    text.get_or_init(|| row.search_text(owners.processes, names))
                        .as_str()
                };
                words.iter().all(|word| word.matches(row, text))
            }
        }
    }

    /// Whether every row `next` keeps is among the rows `self` keeps, when `next`'s text is
    /// this one's with more typed after it.
    pub fn narrows_to(&self, next: &Matcher) -> bool {
        let (Matcher::Search { words: before, .. }, Matcher::Search { words: after, .. }) =
            (self, next)
        else {
            return false;
        };
        let Some((last, kept)) = before.split_last() else {
            return true;
        };
        if after.len() < before.len() || after[..kept.len()] != *kept {
            return false;
        }
        match (last, &after[kept.len()]) {
            (last, next) if last == next => true,
            // `ab` -> `abc` narrows; `808` -> `8080` or `host:80` -> `host:8080` does not.
            (
                SearchWord::Text {
                    text: last,
                    ends_in_port: false,
                },
                SearchWord::Text { text: next, .. },
            ) => next.starts_with(last.as_str()),
            _ => false,
        }
    }
}

impl SearchWord {
    fn of(word: &str) -> SearchWord {
        let all_digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        if all_digits(word)
            && let Ok(number) = word.parse()
        {
            return SearchWord::Number(number);
        }
        if let Some(port) = word.strip_prefix(':').filter(|port| all_digits(port))
            && let Ok(port) = port.parse()
        {
            return SearchWord::Port(port);
        }
        let ends_in_port = word
            .rsplit_once(':')
            .is_some_and(|(_, port)| all_digits(port));
        SearchWord::Text {
            text: word.to_lowercase(),
            ends_in_port,
        }
    }

    /// Whether the word matches `row`, whose search text `text` gives.
    fn matches<'t>(&self, row: &Row, search_text: impl FnOnce() -> &'t str) -> bool {
        let socket = &row.socket;
        let remote_port = socket.remote.map(|remote| remote.port());
        match self {
            SearchWord::Number(number) => {
                u16::try_from(*number)
                    .is_ok_and(|port| socket.local.port() == port || remote_port == Some(port))
                    || socket.pids.contains(number)
            }
            SearchWord::Port(port) => socket.local.port() == *port || remote_port == Some(*port),
            SearchWord::Text {
                text,
                ends_in_port: false,
            } => search_text().contains(text.as_str()),
            SearchWord::Text {
                text,
                ends_in_port: true,
            } => contains_not_followed_by_digit(search_text(), text),
        }
    }
}

/// Whether `needle` occurs in `haystack` with no digit right after it.
fn contains_not_followed_by_digit(haystack: &str, needle: &str) -> bool {
    let mut from = 0;
    while let Some(found) = haystack[from..].find(needle) {
        let end = from + found + needle.len();
        if !haystack.as_bytes().get(end).is_some_and(u8::is_ascii_digit) {
            return true;
        }
        // A later match may overlap this one.
        from += found + needle.chars().next().map_or(1, char::len_utf8);
    }
    false
}
