//! The `/` text: expressions, plain searches, typing key by key.

use super::*;

#[test]
fn filter_typing_backspace_enter_and_esc() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char('/'));
    assert!(app.typing);
    type_text(&mut app, "HTTP-");
    assert_eq!(app.table.filter, "HTTP-");
    // Case-insensitive, over the service labels: both sockets on 8080 (http-alt).
    assert_eq!(locals(&app), ["127.0.0.1:8080(http-alt)"; 2]);
    press(&mut app, Key::Backspace);
    assert_eq!(app.table.filter, "HTTP");
    assert_eq!(app.table.lines.len(), 3, "http and http-alt");
    // 'q' while typing is text, not quit.
    assert_eq!(press(&mut app, Key::Char('q')), None);
    assert!(app.table.lines.is_empty());
    press(&mut app, Key::Backspace);
    press(&mut app, Key::Enter);
    assert!(!app.typing);
    assert_eq!(app.table.filter, "HTTP");
    assert_eq!(app.table.lines.len(), 3);
    // The kept filter applies to the next snapshot too.
    let mut more = three_sockets();
    more.push(listener("0.0.0.0:22", 30, &[]));
    feed(&mut app, more);
    assert_eq!(app.table.lines.len(), 3);
    press(&mut app, Key::Char('/'));
    press(&mut app, Key::Esc);
    assert!(!app.typing);
    assert_eq!(app.table.filter, "");
    assert_eq!(app.table.lines.len(), 4);
}

#[test]
fn filter_matches_ports_state_pid_and_program() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    let count = |app: &mut App, text: &str| {
        press(app, Key::Char('/'));
        type_text(app, text);
        let n = app.table.lines.len();
        press(app, Key::Esc);
        n
    };
    assert_eq!(count(&mut app, "50000"), 1, "remote port");
    assert_eq!(count(&mut app, "estab"), 1, "state");
    assert_eq!(count(&mut app, "101"), 1, "second owner's pid");
    assert_eq!(count(&mut app, "python"), 2, "program");
    assert_eq!(count(&mut app, "nothing-like-this"), 0);
}

#[test]
fn slash_text_that_parses_is_a_filter_expression() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    assert_eq!(
        shown_by(&mut app, "sport = :8080"),
        ["127.0.0.1:8080(http-alt)"; 2]
    );
    assert_eq!(
        shown_by(&mut app, "sport = :8080 and dport = :50000"),
        ["127.0.0.1:8080(http-alt)"]
    );
    assert_eq!(shown_by(&mut app, "process nginx"), ["0.0.0.0:80(http)"]);
    assert_eq!(
        shown_by(&mut app, "state listening not pid 200"),
        ["0.0.0.0:80(http)"]
    );
    assert_eq!(shown_by(&mut app, "user alice").len(), 3);
    assert_eq!(shown_by(&mut app, "dst 127.0.0.0/8").len(), 1);

    // While typing, the text is re-read at each key: `sport = :8` is an expression too, and
    // one more digit widens it to other rows, never narrows from the rows `:8` kept.
    press(&mut app, Key::Char('/'));
    type_text(&mut app, "sport = :8");
    assert!(app.filter_is_expression());
    assert!(app.table.lines.is_empty());
    type_text(&mut app, "0");
    assert_eq!(locals(&app), ["0.0.0.0:80(http)"]);
    let header = &screen(&app)[2];
    assert!(
        header.starts_with("filter: sport = :80 (expression) │ owners: complete"),
        "{header}"
    );
}

#[test]
fn slash_search_matches_numbers_as_whole_ports_and_pids() {
    let mut app = new_app();
    feed(
        &mut app,
        vec![
            listener("127.0.0.1:8080", 1, &[100]),
            listener("127.0.0.1:58080", 2, &[101]),
            connection(
                "127.0.0.1:4444",
                "127.0.0.1:50000",
                SocketState::Established,
                Some(3),
            ),
            connection(
                "127.0.0.1:44448",
                "127.0.0.1:2000",
                SocketState::Established,
                Some(4),
            ),
        ],
    );
    // Without the service labels, which a number must not match either.
    let mut numeric = |text: &str| -> Vec<String> {
        shown_by(&mut app, text)
            .iter()
            .map(|local| local.split('(').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(numeric("8080"), ["127.0.0.1:8080"]);
    assert_eq!(numeric("58080"), ["127.0.0.1:58080"]);
    assert_eq!(numeric(":4444"), ["127.0.0.1:4444"]);
    assert_eq!(numeric("127.0.0.1:4444"), ["127.0.0.1:4444"]);
    // A number is a remote port too, and an owner's pid; never part of an address or a name.
    assert_eq!(numeric("2000"), ["127.0.0.1:44448"]);
    assert_eq!(numeric("101"), ["127.0.0.1:58080"]);
    assert_eq!(numeric("3"), Vec::<String>::new(), "not python3");
    assert_eq!(numeric("127"), Vec::<String>::new(), "not 127.0.0.1");
    // Other words match in part, as before, but an address's port whole.
    assert_eq!(numeric("127.0.0.1:444").len(), 0);
    assert_eq!(numeric("0.1:4444"), ["127.0.0.1:4444"]);
    assert_eq!(numeric("127.0.0.1:4").len(), 0);
    assert_eq!(numeric("127.0.0.1:44").len(), 0);
    assert_eq!(numeric("0.0.1:5").len(), 0, "a port is whole");
    // Each word is required, in any case.
    assert_eq!(
        numeric("PYTHON 4444"),
        ["127.0.0.1:4444"],
        "program and port"
    );
    assert_eq!(numeric("listen 8080"), ["127.0.0.1:8080"]);
    assert_eq!(numeric("estab").len(), 2);

    // Typing on from `808` to `8080` finds 8080, which `808` did not show.
    press(&mut app, Key::Char('/'));
    type_text(&mut app, "808");
    assert!(app.table.lines.is_empty());
    type_text(&mut app, "0");
    assert_eq!(app.table.lines.len(), 1);
    assert!(!app.filter_is_expression());
    let header = &screen(&app)[2];
    assert!(
        header
            .starts_with("filter: 8080 (search; not an expression at word 1: expected a condition"),
        "{header}"
    );
}

#[test]
fn header_shows_why_the_text_is_not_an_expression_escaped_and_cut() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char('/'));
    type_text(&mut app, "dport = :nosuch");
    assert!(!app.filter_is_expression());
    assert_eq!(
        app.filter_error(),
        Some("word 3: 'nosuch' is not a port number or a known service name")
    );
    let lines = screen(&app);
    assert_eq!(
        lines[2],
        "filter: dport = :nosuch (search; not an expression at word 3: 'nosuch' is not a port number \
         or a k…) │ owners: complete │ showing"
    );
    // A narrow terminal: the error is cut, the filter still leads, the next line is the table.
    let lines = screen_at(&mut app, 60, HEIGHT);
    assert!(
        lines[2] == "filter: dport = :nosuch (search; not an expression at word…)",
        "{}",
        lines[2]
    );
    assert!(lines[3].trim_start().starts_with("Proto"), "{}", lines[3]);
    // The user's word comes back escaped.
    press(&mut app, Key::Esc);
    press(&mut app, Key::Char('/'));
    type_text(&mut app, "process \u{1b}[2J(");
    let header = &screen(&app)[2];
    assert!(!header.contains('\u{1b}'), "{header}");
    assert!(
        header.contains("(search; not an expression at word"),
        "{header}"
    );
}

#[test]
fn the_command_line_filter_is_taken_as_parsed_not_parsed_again() {
    // What the command line parsed is what applies; the text is only what `/` shows and edits.
    // A text that would not parse proves the dashboard did not parse it again.
    let parsed = crate::filter::parse::parse(
        &["dport", "=", ":50000"].map(String::from),
        &Services::builtin(),
        &[Proto::Tcp, Proto::Udp],
    )
    .expect("a filter");
    let mut app = app_with_options(LiveOptions {
        numeric: false,
        resolve: false,
        interval: Duration::from_secs(1),
        filter: "( dport".to_string(),
        parsed_filter: Some(parsed),
    });
    assert!(app.filter_is_expression());
    assert_eq!(app.table.filter, "( dport");
    feed(&mut app, three_sockets());
    assert_eq!(locals(&app), ["127.0.0.1:8080(http-alt)"]);
}

#[test]
fn the_command_line_filter_is_the_starting_text_and_can_be_cleared() {
    let mut app = app_with_options(LiveOptions {
        numeric: false,
        resolve: false,
        interval: Duration::from_secs(1),
        filter: "state established dport = :50000".to_string(),
        parsed_filter: None,
    });
    assert_eq!(app.table.filter, "state established dport = :50000");
    assert!(app.filter_is_expression());
    feed(&mut app, three_sockets());
    assert_eq!(locals(&app), ["127.0.0.1:8080(http-alt)"]);
    assert!(
        screen(&app)[2].starts_with("filter: state established dport = :50000 (expression) │"),
        "{}",
        screen(&app)[2]
    );
    // Editable as if typed: Backspace widens the port to :5000, nothing matches it.
    press(&mut app, Key::Char('/'));
    press(&mut app, Key::Backspace);
    assert_eq!(app.table.filter, "state established dport = :5000");
    assert!(app.table.lines.is_empty());
    // Esc clears it and every row the collector sent is there.
    press(&mut app, Key::Esc);
    assert_eq!(app.table.filter, "");
    assert_eq!(app.table.lines.len(), 3);
}

#[test]
fn typing_key_by_key_shows_what_the_whole_text_shows_at_once() {
    // Where one more key may only narrow, the dashboard scans the rows already shown; this
    // checks that shortcut against evaluating each prefix afresh, over ports that extend
    // one another (8, 80, 808, 8080, 58080) and texts that become expressions.
    let sockets = || {
        let mut sockets = vec![
            listener("0.0.0.0:80", 1, &[100]),
            listener("127.0.0.1:8080", 2, &[200]),
            listener("127.0.0.1:808", 3, &[300]),
            connection(
                "127.0.0.1:58080",
                "127.0.0.1:8",
                SocketState::Established,
                Some(4),
            ),
            connection("[::1]:4444", "[::1]:44448", SocketState::TimeWait, None),
        ];
        sockets.push(socket(
            Proto::Udp,
            "127.0.0.1:5353",
            None,
            SocketState::Unconn,
            Some(6),
            &[8080],
        ));
        sockets
    };
    for text in [
        "58080",
        "127.0.0.1:58080",
        "0.1:808 listen",
        ":44448",
        "nginx 80 0.0.0.0",
        "sport = :8080",
        "dport = :8 or sport = :808",
        "tim 4444",
        "8080 udp",
    ] {
        let mut typed = new_app();
        feed(&mut typed, sockets());
        press(&mut typed, Key::Char('/'));
        for (end, c) in text.char_indices() {
            press(&mut typed, Key::Char(c));
            let prefix = &text[..end + c.len_utf8()];
            let mut fresh = app_with_options(LiveOptions {
                numeric: false,
                resolve: false,
                interval: Duration::from_secs(1),
                filter: prefix.to_string(),
                parsed_filter: None,
            });
            feed(&mut fresh, sockets());
            assert_eq!(locals(&typed), locals(&fresh), "after typing {prefix:?}");
        }
    }
}

#[test]
fn a_deep_or_long_pasted_filter_is_an_answer_or_an_error_not_a_crash() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    let deep = [
        format!("{}sport = :8080{}", "(".repeat(8000), ")".repeat(8000)),
        format!("{}sport = :8080", "not ".repeat(20_000)),
        format!("{}sport = :8080", "! ".repeat(20_000)),
    ];
    for text in &deep {
        press(&mut app, Key::Char('/'));
        assert_eq!(app.update(Msg::Paste(text.clone())), None);
        assert!(!app.filter_is_expression());
        let error = app.filter_error().unwrap_or_default().to_string();
        assert!(error.contains("nests deeper than 256 levels"), "{error}");
        let header = &screen(&app)[2];
        assert!(header.starts_with("filter: "), "{header}");
        press(&mut app, Key::Esc);
        assert_eq!(app.table.lines.len(), 3);
    }
    let chain = std::iter::once(8080)
        .chain(10_000..59_999)
        .map(|port| format!("sport = :{port}"))
        .collect::<Vec<_>>()
        .join(" or ");
    press(&mut app, Key::Char('/'));
    assert_eq!(app.update(Msg::Paste(chain)), None);
    assert!(app.filter_is_expression(), "{:?}", app.filter_error());
    assert_eq!(locals(&app), ["127.0.0.1:8080(http-alt)"; 2]);
    screen(&app);
    press(&mut app, Key::Esc);
}
