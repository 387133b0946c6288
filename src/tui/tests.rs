//! The dashboard driven by messages and drawn into ratatui's `TestBackend`: hand-made
//! snapshots, no sockets, no terminal, no sleeps.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use super::app::{App, KillOwner};
use super::kill::ProcessStart;
use super::msg::{Effect, Key, Msg};
use super::rows::Mark;
use super::table::Line;
use super::view;
use crate::filter::{Listening, Query};
use crate::model::{
    OwnerCoverage, OwnerGaps, Process, Proto, Snapshot, Socket, SocketState, TcpInfo,
};
use crate::services::Services;
use crate::tui::app::LiveOptions;

const WIDTH: u16 = 130;
const HEIGHT: u16 = 14;

fn new_app() -> App {
    let query = Query {
        listening: Listening::All,
        owners: true,
        ..Query::default()
    };
    let options = LiveOptions {
        numeric: false,
        interval: Duration::from_secs(1),
        filter: String::new(),
    };
    let mut app = App::new(Services::builtin(), query, &options);
    app.update(Msg::Resize {
        width: WIDTH,
        height: HEIGHT,
    });
    app
}

fn socket(
    proto: Proto,
    local: &str,
    remote: Option<&str>,
    state: SocketState,
    inode: Option<u64>,
    pids: &[u32],
) -> Socket {
    Socket {
        remote: remote.map(|r| r.parse().expect("remote address")),
        recv_q: Some(0),
        send_q: Some(if state == SocketState::Listen { 128 } else { 0 }),
        uid: Some(1000),
        inode,
        pids: pids.to_vec(),
        ..Socket::new(proto, state, local.parse().expect("local address"))
    }
}

fn listener(local: &str, inode: u64, pids: &[u32]) -> Socket {
    socket(
        Proto::Tcp,
        local,
        None,
        SocketState::Listen,
        Some(inode),
        pids,
    )
}

fn connection(local: &str, remote: &str, state: SocketState, inode: Option<u64>) -> Socket {
    socket(Proto::Tcp, local, Some(remote), state, inode, &[200])
}

fn process(pid: u32, name: &str, user: &str, cmdline: &str) -> Process {
    Process {
        pid,
        name: name.to_string(),
        user: Some(user.to_string()),
        cmdline: Some(cmdline.to_string()),
        argv: Some(cmdline.split(' ').map(str::to_string).collect()),
    }
}

/// A snapshot taken at 12:34:56 UTC on host `testhost`, with three known processes.
fn snapshot(sockets: Vec<Socket>) -> Snapshot {
    let processes: HashMap<u32, Process> = [
        process(100, "nginx", "www-data", "nginx: master process"),
        process(101, "nginx", "www-data", "nginx: worker process"),
        process(200, "python3", "alice", "python3 -m http.server 8080"),
        process(300, "evil\x1b[2J", "mallory", "evil\x1b[2J --flag"),
    ]
    .into_iter()
    .map(|p| (p.pid, p))
    .collect();
    Snapshot {
        hostname: Some("testhost".to_string()),
        taken_at: Some(UNIX_EPOCH + Duration::from_secs(12 * 3600 + 34 * 60 + 56)),
        sockets,
        processes,
        user_names: HashMap::from([(1000, "alice".to_string())]),
        owners: OwnerCoverage::Complete,
        owners_as_of: None,
        ..Snapshot::default()
    }
}

fn feed(app: &mut App, sockets: Vec<Socket>) {
    assert_eq!(app.update(Msg::Snapshot(Box::new(snapshot(sockets)))), None);
}

fn press(app: &mut App, key: Key) -> Option<Effect> {
    app.update(Msg::Key(key))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(press(app, Key::Char(c)), None);
    }
}

/// The sockets as the table lists them: (marker, local address text).
fn shown(app: &App) -> Vec<(char, String)> {
    app.table
        .lines
        .iter()
        .filter_map(|line| match line {
            Line::Socket(row) => {
                let row = &app.table.rows[*row as usize];
                Some((row.mark.symbol(), row.local.clone()))
            }
            Line::Group(_) => None,
        })
        .collect()
}

fn locals(app: &App) -> Vec<String> {
    shown(app).into_iter().map(|(_, local)| local).collect()
}

fn draw(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| view::render(app, frame))
        .expect("draw");
    terminal.backend().buffer().clone()
}

fn screen_lines(buffer: &Buffer) -> Vec<String> {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            let line: String = (0..area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            line.trim_end().to_string()
        })
        .collect()
}

fn screen(app: &App) -> Vec<String> {
    screen_lines(&draw(app, WIDTH, HEIGHT))
}

/// The table row (below the header and the column titles) whose text contains `needle`.
fn screen_row(buffer: &Buffer, needle: &str) -> u16 {
    let lines = screen_lines(buffer);
    let y = (4..lines.len())
        .find(|&y| lines[y].contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{}", lines.join("\n")));
    y as u16
}

fn three_sockets() -> Vec<Socket> {
    vec![
        listener("0.0.0.0:80", 11, &[100, 101]),
        listener("127.0.0.1:8080", 12, &[200]),
        connection(
            "127.0.0.1:8080",
            "127.0.0.1:50000",
            SocketState::Established,
            Some(13),
        ),
    ]
}

// ---- update(): highlighting and identity

#[test]
fn first_snapshot_marks_nothing_new() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    assert!(app.table.rows.iter().all(|row| row.mark == Mark::None));
    assert_eq!(app.table.counts.tcp, 3);
}

#[test]
fn new_socket_is_marked_for_three_refreshes() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    let mut with_new = three_sockets();
    with_new.push(listener("[::1]:5432", 14, &[200]));
    let marks = |app: &App| {
        shown(app)
            .into_iter()
            .find(|(_, local)| local.starts_with("[::1]:5432"))
            .map(|(mark, _)| mark)
    };
    for _ in 0..3 {
        feed(&mut app, with_new.clone());
        assert_eq!(marks(&app), Some('+'));
    }
    feed(&mut app, with_new);
    assert_eq!(marks(&app), Some(' '));
}

#[test]
fn gone_socket_stays_three_refreshes_then_leaves() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    let without = three_sockets()[..2].to_vec();
    for _ in 0..3 {
        feed(&mut app, without.clone());
        assert_eq!(app.table.rows.len(), 3);
        let gone: Vec<_> = app.table.rows.iter().filter(|r| r.mark.is_gone()).collect();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].remote, "127.0.0.1:50000");
        // Gone sockets are not counted as present.
        assert_eq!(app.table.counts.tcp, 2);
    }
    feed(&mut app, without);
    assert_eq!(app.table.rows.len(), 2);
    assert!(app.table.rows.iter().all(|row| row.mark == Mark::None));
}

#[test]
fn a_gone_socket_that_comes_back_is_new_again() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    feed(&mut app, three_sockets()[..2].to_vec());
    feed(&mut app, three_sockets());
    assert_eq!(app.table.rows.len(), 3);
    let back = app
        .table
        .rows
        .iter()
        .find(|r| r.remote == "127.0.0.1:50000");
    assert_eq!(back.map(|r| r.mark), Some(Mark::New(3)));
}

#[test]
fn state_change_is_marked_for_three_refreshes() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    let mut closing = three_sockets();
    closing[2].state = SocketState::CloseWait;
    for expected in [
        Mark::Changed(3),
        Mark::Changed(2),
        Mark::Changed(1),
        Mark::None,
    ] {
        feed(&mut app, closing.clone());
        let row = app
            .table
            .rows
            .iter()
            .find(|r| r.remote == "127.0.0.1:50000");
        assert_eq!(row.map(|r| r.mark), Some(expected));
    }
    assert_eq!(app.table.rows.len(), 3);
}

#[test]
fn time_wait_without_inode_is_the_same_socket_changing_state() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    let mut time_wait = three_sockets();
    time_wait[2].state = SocketState::TimeWait;
    time_wait[2].inode = None;
    time_wait[2].pids.clear();
    feed(&mut app, time_wait);
    assert_eq!(app.table.rows.len(), 3, "not one gone row plus one new row");
    let row = app
        .table
        .rows
        .iter()
        .find(|r| r.remote == "127.0.0.1:50000");
    assert_eq!(row.map(|r| r.mark), Some(Mark::Changed(3)));
    assert_eq!(row.map(|r| r.socket.state), Some(SocketState::TimeWait));
}

#[test]
fn reuseport_listeners_sharing_an_address_are_told_apart_by_inode() {
    let mut app = new_app();
    let pair = vec![
        listener("0.0.0.0:443", 21, &[100]),
        listener("0.0.0.0:443", 22, &[101]),
    ];
    feed(&mut app, pair.clone());
    // One of the two closes; the other is untouched.
    feed(&mut app, vec![pair[1].clone()]);
    let marks: Vec<_> = app
        .table
        .rows
        .iter()
        .map(|r| (r.socket.inode, r.mark))
        .collect();
    assert!(marks.contains(&(Some(21), Mark::Gone(3))), "{marks:?}");
    assert!(marks.contains(&(Some(22), Mark::None)), "{marks:?}");
}

#[test]
fn owners_changing_update_the_program_text() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    let mut moved = three_sockets();
    moved[1].pids = vec![300];
    feed(&mut app, moved);
    let row = app.table.rows.iter().find(|r| r.socket.inode == Some(12));
    assert_eq!(row.map(|r| r.program.as_str()), Some("evil\\x1b[2J"));
}

// ---- update(): pause, filter, sort, selection

#[test]
fn pause_holds_the_view_and_unpause_shows_the_newest_snapshot() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char(' '));
    assert!(app.paused);
    let mut later = three_sockets();
    later.push(listener("0.0.0.0:22", 30, &[]));
    feed(&mut app, later.clone());
    later.push(listener("0.0.0.0:25", 31, &[]));
    feed(&mut app, later);
    assert_eq!(app.table.rows.len(), 3, "the view is frozen while paused");
    assert_eq!(app.table.snapshots_seen, 1);
    press(&mut app, Key::Char(' '));
    assert!(!app.paused);
    assert_eq!(
        app.table.snapshots_seen, 2,
        "only the newest snapshot is applied"
    );
    let new: Vec<_> = shown(&app)
        .into_iter()
        .filter(|(mark, _)| *mark == '+')
        .map(|(_, local)| local)
        .collect();
    assert_eq!(new, ["0.0.0.0:22(ssh)", "0.0.0.0:25(smtp)"]);
}

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

/// Type `text` after `/`, note the local addresses shown, and clear the filter again.
fn shown_by(app: &mut App, text: &str) -> Vec<String> {
    press(app, Key::Char('/'));
    type_text(app, text);
    let shown = locals(app);
    press(app, Key::Esc);
    shown
}

fn app_with_options(options: LiveOptions) -> App {
    let query = Query {
        listening: Listening::All,
        owners: true,
        ..Query::default()
    };
    let mut app = App::new(Services::builtin(), query, &options);
    app.update(Msg::Resize {
        width: WIDTH,
        height: HEIGHT,
    });
    app
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
fn the_command_line_filter_is_the_starting_text_and_can_be_cleared() {
    let mut app = app_with_options(LiveOptions {
        numeric: false,
        interval: Duration::from_secs(1),
        filter: "state established dport = :50000".to_string(),
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
                interval: Duration::from_secs(1),
                filter: prefix.to_string(),
            });
            feed(&mut fresh, sockets());
            assert_eq!(locals(&typed), locals(&fresh), "after typing {prefix:?}");
        }
    }
}

#[test]
fn sort_by_column_key_and_reverse_on_repeat() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    assert_eq!(
        locals(&app),
        [
            "0.0.0.0:80(http)",
            "127.0.0.1:8080(http-alt)",
            "127.0.0.1:8080(http-alt)"
        ]
    );
    press(&mut app, Key::Char('8')); // Program
    assert_eq!(
        app.table
            .lines
            .iter()
            .filter_map(|l| match l {
                Line::Socket(r) => Some(app.table.rows[*r as usize].program.clone()),
                Line::Group(_) => None,
            })
            .collect::<Vec<_>>(),
        ["nginx", "python3", "python3"]
    );
    press(&mut app, Key::Char('8'));
    assert!(app.table.sort.reverse);
    // Reversed on the column only: the two python3 rows keep their tiebreak order.
    let reversed: Vec<_> = app
        .table
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Socket(r) => Some(app.table.rows[*r as usize].remote.clone()),
            Line::Group(_) => None,
        })
        .collect();
    assert_eq!(reversed, ["*:*", "127.0.0.1:50000", "*:*"]);
    press(&mut app, Key::Char('4')); // State, a new column: ascending again
    assert!(!app.table.sort.reverse);
    let states: Vec<_> = app
        .table
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Socket(r) => Some(app.table.rows[*r as usize].socket.state),
            Line::Group(_) => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            SocketState::Established,
            SocketState::Listen,
            SocketState::Listen
        ]
    );
}

#[test]
fn rows_keep_their_order_across_refreshes_when_the_sort_key_ties() {
    let mut app = new_app();
    press(&mut app, Key::Char('4')); // every row LISTEN: all ties
    let listeners: Vec<Socket> = (0..20)
        .map(|i| listener(&format!("10.0.0.{i}:9000"), 100 + i, &[]))
        .collect();
    feed(&mut app, listeners.clone());
    let before = locals(&app);
    let mut shuffled = listeners;
    shuffled.reverse();
    feed(&mut app, shuffled);
    assert_eq!(locals(&app), before);
}

#[test]
fn selection_follows_its_socket_and_clamps_when_rows_vanish() {
    let mut app = new_app();
    let many: Vec<Socket> = (1..=10)
        .map(|i| listener(&format!("10.0.0.{i}:9000"), i, &[]))
        .collect();
    feed(&mut app, many.clone());
    press(&mut app, Key::Down);
    press(&mut app, Key::Down);
    assert_eq!(app.selected, 2);
    // A socket sorting before the selected one appears: the selection stays on 10.0.0.3.
    let mut more = many.clone();
    more.push(listener("10.0.0.0:9000", 99, &[]));
    feed(&mut app, more);
    assert_eq!(
        app.row_at(app.selected).map(|r| r.local.as_str()),
        Some("10.0.0.3:9000")
    );
    press(&mut app, Key::End);
    assert_eq!(app.selected, 10);
    // The last rows vanish and, three refreshes later, leave: the selection clamps.
    let few = many[..4].to_vec();
    for _ in 0..4 {
        feed(&mut app, few.clone());
    }
    assert_eq!(app.table.lines.len(), 4);
    assert_eq!(app.selected, 3);
    feed(&mut app, Vec::new());
    for _ in 0..3 {
        feed(&mut app, Vec::new());
    }
    assert!(app.table.lines.is_empty());
    assert_eq!(app.selected, 0);
    assert_eq!(app.offset, 0);
}

#[test]
fn paging_moves_by_the_rows_on_screen() {
    let mut app = new_app();
    let many: Vec<Socket> = (1..=100)
        .map(|i| listener(&format!("10.0.{}.{}:9000", i / 200, i % 200), i, &[]))
        .collect();
    feed(&mut app, many);
    let page = super::layout::table_rows(HEIGHT);
    assert_eq!(page, HEIGHT as usize - 5);
    press(&mut app, Key::PageDown);
    assert_eq!(app.selected, page);
    assert_eq!(app.offset, 1);
    press(&mut app, Key::End);
    assert_eq!((app.selected, app.offset), (99, 100 - page));
    press(&mut app, Key::PageUp);
    assert_eq!(app.selected, 99 - page);
    press(&mut app, Key::Home);
    assert_eq!((app.selected, app.offset), (0, 0));
    app.update(Msg::Scroll(3));
    assert_eq!(app.selected, 3);
    app.update(Msg::Scroll(-30));
    assert_eq!(app.selected, 0);
}

// ---- update(): details, kill, quitting, help, grouping

#[test]
fn details_follow_the_socket_across_refreshes_and_say_gone() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Down);
    press(&mut app, Key::Enter);
    let details = app.details.as_ref().expect("details open");
    assert_eq!(details.last.socket.inode, Some(12));
    assert_eq!(details.owners.len(), 1);
    assert!(!details.gone);
    // Reordered and with a changed queue: still the same socket.
    let mut busy = three_sockets();
    busy[1].recv_q = Some(7);
    busy.insert(0, listener("0.0.0.0:1", 40, &[]));
    feed(&mut app, busy);
    let details = app.details.as_ref().expect("details open");
    assert_eq!(details.last.socket.recv_q, Some(7));
    // It closes: gone at once, and still shown after its row has left the table.
    for _ in 0..5 {
        feed(&mut app, vec![three_sockets()[0].clone()]);
        let details = app.details.as_ref().expect("details stay open");
        assert!(details.gone);
        assert_eq!(details.last.socket.inode, Some(12));
    }
    assert_eq!(press(&mut app, Key::Esc), None);
    assert!(app.details.is_none());
}

#[test]
fn kill_asks_first_and_only_y_confirms() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    assert_eq!(
        press(&mut app, Key::Char('k')),
        Some(Effect::ReadStartTimes)
    );
    let target = app.confirm.clone().expect("confirmation asked");
    let owner = |pid| KillOwner {
        pid,
        program: "nginx".to_string(),
        started: None,
        refused: None,
    };
    assert_eq!(target.owners, vec![owner(100), owner(101)]);
    assert_eq!((target.pid(), target.inode), (100, Some(11)));
    assert_eq!(press(&mut app, Key::Char('n')), None);
    assert!(app.confirm.is_none());
    assert_eq!(app.status.as_deref(), Some("kill of pid 100 cancelled"));
    press(&mut app, Key::Char('k'));
    // Even Enter or q only cancel.
    assert_eq!(press(&mut app, Key::Char('q')), None);
    press(&mut app, Key::Char('k'));
    assert_eq!(
        press(&mut app, Key::Char('y')),
        Some(Effect::Kill {
            pid: 100,
            inode: Some(11),
            started: None
        })
    );
    assert!(app.confirm.is_none());
    app.update(Msg::Killed {
        pid: 100,
        result: Err("permission denied (EPERM)".to_string()),
    });
    assert_eq!(
        app.status.as_deref(),
        Some("could not kill pid 100 (nginx): permission denied (EPERM)")
    );
    app.update(Msg::Killed {
        pid: 200,
        result: Ok(()),
    });
    assert_eq!(
        app.status.as_deref(),
        Some("sent SIGTERM to pid 200 (python3)")
    );
}

#[test]
fn kill_dialog_lists_every_owner_and_signals_only_the_chosen_one() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char('k'));
    let start = |ticks, seconds| ProcessStart {
        ticks,
        at: Some(UNIX_EPOCH + Duration::from_secs(seconds)),
    };
    // Recorded as the dialog opens, and shown: `y` signals only a process started then.
    app.update(Msg::StartTimes(vec![
        Some(start(500, 9 * 3600 + 5)),
        Some(start(600, 10 * 3600 + 7 * 60)),
    ]));
    let text = screen_lines(&draw(&app, WIDTH, 24)).join("\n");
    assert!(
        text.contains("> pid 100  nginx  started 09:00:05 UTC"),
        "{text}"
    );
    assert!(
        text.contains("  pid 101  nginx  started 10:07:00 UTC"),
        "{text}"
    );
    assert!(text.contains("Up/Down: choose · y: yes · any other key: no"));
    assert_eq!(press(&mut app, Key::Down), None);
    assert_eq!(press(&mut app, Key::Down), None, "stays on the last owner");
    let text = screen_lines(&draw(&app, WIDTH, 24)).join("\n");
    assert!(text.contains("> pid 101  nginx"), "{text}");
    assert_eq!(
        press(&mut app, Key::Char('y')),
        Some(Effect::Kill {
            pid: 101,
            inode: Some(11),
            started: Some(start(600, 10 * 3600 + 7 * 60))
        })
    );
    press(&mut app, Key::Char('k'));
    press(&mut app, Key::Down);
    press(&mut app, Key::Up);
    assert_eq!(app.confirm.as_ref().map(|t| t.pid()), Some(100));
}

#[test]
fn kill_dialog_keeps_the_chosen_owner_on_screen_among_many() {
    let pids: Vec<u32> = (1000..1060).collect();
    let mut app = new_app();
    feed(&mut app, vec![listener("0.0.0.0:80", 5, &pids)]);
    press(&mut app, Key::Char('k'));
    let text = screen(&app).join("\n");
    assert!(text.contains("> pid 1000"), "{text}");
    assert!(text.contains("more below"), "{text}");
    for _ in 0..45 {
        press(&mut app, Key::Down);
    }
    let text = screen(&app).join("\n");
    assert!(text.contains("> pid 1045"), "{text}");
    assert!(
        text.contains("more above") && text.contains("more below"),
        "{text}"
    );
    for _ in 0..45 {
        press(&mut app, Key::Down);
    }
    let text = screen(&app).join("\n");
    assert!(text.contains("> pid 1059"), "{text}");
    assert!(!text.contains("more below"), "{text}");
    assert_eq!(
        press(&mut app, Key::Char('y')),
        Some(Effect::Kill {
            pid: 1059,
            inode: Some(5),
            started: None
        })
    );
}

#[test]
fn kill_refuses_init_and_rnetstat_itself() {
    let own = std::process::id();
    let mut app = new_app();
    feed(&mut app, vec![listener("0.0.0.0:22", 5, &[1, own])]);
    press(&mut app, Key::Char('k'));
    let text = screen_lines(&draw(&app, WIDTH, 24)).join("\n");
    assert!(text.contains("> pid 1 "), "{text}");
    assert!(
        text.contains("?  (refused: pid 1 (init) is never signalled)"),
        "{text}"
    );
    assert!(
        text.contains("(refused: that is rnetstat itself)"),
        "{text}"
    );
    assert_eq!(press(&mut app, Key::Char('y')), None);
    assert_eq!(
        app.status.as_deref(),
        Some("refused to kill pid 1: pid 1 (init) is never signalled")
    );
    press(&mut app, Key::Char('k'));
    press(&mut app, Key::Down);
    assert_eq!(press(&mut app, Key::Char('y')), None);
    assert_eq!(
        app.status,
        Some(format!(
            "refused to kill pid {own}: that is rnetstat itself"
        ))
    );
}

#[test]
fn paste_fills_an_open_filter_and_is_otherwise_ignored() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    // Closed filter: the text is not keys (`k` then `y` would have killed).
    assert_eq!(app.update(Msg::Paste("/:80\rky".to_string())), None);
    assert!(app.confirm.is_none() && !app.typing && app.table.filter.is_empty());
    press(&mut app, Key::Char('k'));
    assert_eq!(app.update(Msg::Paste("y".to_string())), None);
    assert!(
        app.confirm.is_some(),
        "a paste neither confirms nor cancels"
    );
    press(&mut app, Key::Esc);
    press(&mut app, Key::Char('/'));
    assert_eq!(app.update(Msg::Paste(":8080\r\x1b[2Jky".to_string())), None);
    assert!(
        app.typing,
        "a pasted carriage return does not end the filter"
    );
    assert_eq!(app.table.filter, ":8080[2Jky");
    press(&mut app, Key::Esc);
    assert!(!app.typing && app.table.filter.is_empty());
}

#[test]
fn kill_without_a_known_owner_says_so() {
    let mut app = new_app();
    let mut limited = snapshot(vec![listener("0.0.0.0:22", 1, &[])]);
    limited.owners = OwnerCoverage::Incomplete(OwnerGaps {
        not_root: true,
        ..OwnerGaps::default()
    });
    app.update(Msg::Snapshot(Box::new(limited)));
    assert_eq!(press(&mut app, Key::Char('k')), None);
    assert!(app.confirm.is_none());
    assert_eq!(
        app.status.as_deref(),
        Some("no known owner: run as root to see other users' processes")
    );
}

#[test]
fn quit_keys_and_esc_closes_before_it_quits() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    assert_eq!(press(&mut app, Key::Char('q')), Some(Effect::Quit));
    assert_eq!(press(&mut app, Key::Interrupt), Some(Effect::Quit));
    press(&mut app, Key::Char('/'));
    assert_eq!(press(&mut app, Key::Interrupt), Some(Effect::Quit));
    type_text(&mut app, "80");
    press(&mut app, Key::Enter);
    press(&mut app, Key::Enter); // details
    press(&mut app, Key::Char('?'));
    assert!(app.help);
    assert_eq!(press(&mut app, Key::Esc), None, "closes help");
    assert!(!app.help);
    assert_eq!(press(&mut app, Key::Esc), None, "closes details");
    assert!(app.details.is_none());
    assert_eq!(press(&mut app, Key::Esc), None, "clears the filter");
    assert_eq!(app.table.filter, "");
    assert_eq!(press(&mut app, Key::Esc), Some(Effect::Quit));
    assert_eq!(app.update(Msg::Terminate), Some(Effect::Quit));
}

#[test]
fn grouping_by_process_expands_and_collapses() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char('g'));
    assert!(app.table.grouped);
    let names: Vec<_> = app
        .table
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.sockets))
        .collect();
    assert_eq!(names, [("nginx", 1), ("python3", 2)]);
    assert_eq!(app.table.lines, [Line::Group(0), Line::Group(1)]);
    assert_eq!(app.table.groups[0].pid, Some(100));
    press(&mut app, Key::Down);
    press(&mut app, Key::Enter);
    assert_eq!(app.table.lines.len(), 4);
    assert!(matches!(app.table.lines[2], Line::Socket(_)));
    press(&mut app, Key::Down);
    press(&mut app, Key::Enter); // a socket row in the group: details
    assert!(app.details.is_some());
    press(&mut app, Key::Esc);
    press(&mut app, Key::Left); // collapses the socket's group, selecting the group
    assert_eq!(app.table.lines.len(), 2);
    assert_eq!(app.selected, 1);
    press(&mut app, Key::Right);
    assert_eq!(app.table.lines.len(), 4);
    // Expansion survives refreshes; a new program appears as its own group.
    let mut more = three_sockets();
    more.push(listener("0.0.0.0:6666", 50, &[300]));
    feed(&mut app, more);
    assert_eq!(app.table.groups.len(), 3);
    assert_eq!(app.table.lines.len(), 5);
    press(&mut app, Key::Char('g'));
    assert!(!app.table.grouped);
    assert_eq!(app.table.lines.len(), 4);
}

#[test]
fn grouping_keeps_unrelated_processes_of_one_name_apart() {
    let mut app = new_app();
    let mut sockets = three_sockets();
    sockets.push(listener("127.0.0.1:9000", 13, &[201]));
    sockets.push(listener("127.0.0.1:9001", 14, &[101]));
    let mut shot = snapshot(sockets);
    let other = process(201, "python3", "bob", "python3 other.py");
    shot.processes.insert(other.pid, other);
    app.update(Msg::Snapshot(Box::new(shot)));
    press(&mut app, Key::Char('g'));
    let groups: Vec<_> = app
        .table
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.pid, g.sockets))
        .collect();
    assert_eq!(
        groups,
        [
            ("nginx", Some(100), 1),
            ("python3", Some(200), 2),
            ("python3", Some(201), 1),
            ("nginx", Some(101), 1),
        ]
    );
    // Expanding one python3 leaves the other closed.
    press(&mut app, Key::Down);
    press(&mut app, Key::Right);
    assert_eq!(app.table.lines.len(), 6);
    let lines = screen(&app);
    assert_eq!(lines[5], "  ▾ python3  2 sockets  pid 200  Rx -  Tx -");
    assert_eq!(lines[8], "  ▸ python3  1 socket  pid 201  Rx -  Tx -");
}

// ---- render(): frame-exact

#[test]
fn frame_layout_is_exact() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    let expected = [
        "rnetstat --live │ host testhost │ refreshed 12:34:56 UTC │ every 1s",
        "3 sockets │ tcp 3 │ udp 0 │ Rx - Tx - │ ESTABLISHED 1, LISTEN 2",
        "owners: complete │ showing tcp+udp, all states │ sort: Local Address ▲",
        "  Proto Local Address▲           Foreign Address State       Recv-Q Send-Q PID Program  User     Rx/s Tx/s",
        "  tcp   0.0.0.0:80(http)         *:*             LISTEN           0    128 100 nginx +1 www-data    -    -",
        "  tcp   127.0.0.1:8080(http-alt) *:*             LISTEN           0    128 200 python3  alice       -    -",
        "  tcp   127.0.0.1:8080(http-alt) 127.0.0.1:50000 ESTABLISHED      0      0 200 python3  alice       -    -",
        "",
        "",
        "",
        "",
        "",
        "",
        "q quit · ? help · / filter · 1-9 sort · g group · space pause · Enter details · k kill",
    ];
    assert_eq!(screen(&app), expected);
    let buffer = draw(&app, WIDTH, HEIGHT);
    // The selection (first row) is reversed; the column titles are bold.
    assert!(buffer[(2, 4)].modifier.contains(Modifier::REVERSED));
    assert!(!buffer[(2, 5)].modifier.contains(Modifier::REVERSED));
    assert!(buffer[(2, 3)].modifier.contains(Modifier::BOLD));
}

#[test]
fn markers_and_colours_of_new_gone_and_changed_rows() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    let mut next = three_sockets();
    next.remove(0); // port 80 goes
    next[1].state = SocketState::FinWait1; // the connection changes state
    next.push(listener("0.0.0.0:22", 60, &[])); // ssh appears
    feed(&mut app, next);
    let buffer = draw(&app, WIDTH, HEIGHT);
    let lines = screen_lines(&buffer);
    for (needle, marker, colour) in [
        ("0.0.0.0:22(ssh)", '+', Color::Green),
        ("0.0.0.0:80(http)", '-', Color::Red),
        ("FIN_WAIT1", '~', Color::Yellow),
    ] {
        let y = screen_row(&buffer, needle);
        assert!(
            lines[y as usize].starts_with(&format!("{marker} ")),
            "{needle}: {}",
            lines[y as usize]
        );
        for x in [0, 10, 40] {
            assert_eq!(buffer[(x, y)].fg, colour, "{needle} at column {x}");
        }
    }
    let plain = screen_row(&buffer, "LISTEN         0    128 200");
    assert!(lines[plain as usize].starts_with("  "));
    assert_eq!(buffer[(10, plain)].fg, Color::Reset);
}

#[test]
fn sorted_column_is_marked_and_rows_follow_on_screen() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char('3'));
    press(&mut app, Key::Char('3'));
    let lines = screen(&app);
    assert!(
        lines[2].ends_with("sort: Foreign Address ▼"),
        "{}",
        lines[2]
    );
    assert!(lines[3].contains("Foreign Address▼"));
    assert!(lines[4].contains("127.0.0.1:50000"), "{}", lines[4]);
}

#[test]
fn filter_shows_matching_rows_and_the_prompt() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char('/'));
    type_text(&mut app, "50000");
    let lines = screen(&app);
    assert_eq!(
        lines[4],
        "  tcp   127.0.0.1:8080(http-alt) 127.0.0.1:50000 ESTABLISHED      0      0 200 python3 alice    -    -"
    );
    assert_eq!(lines[5], "");
    // The filter leads its header line: a narrow terminal cuts the line's end, never the filter.
    assert!(
        lines[2].starts_with("filter: 50000 (search; not an expression at word 1: expected"),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[13],
        "/50000█  Enter keep · Esc clear · Backspace delete"
    );
    type_text(&mut app, "x");
    assert_eq!(screen(&app)[4], "  no socket matches the filter");
}

#[test]
fn grouped_view_on_screen() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char('g'));
    press(&mut app, Key::Down);
    press(&mut app, Key::Right);
    let buffer = draw(&app, WIDTH, HEIGHT);
    let lines = screen_lines(&buffer);
    assert_eq!(lines[4], "  ▸ nginx  1 socket  pid 100  Rx -  Tx -");
    assert_eq!(lines[5], "  ▾ python3  2 sockets  pid 200  Rx -  Tx -");
    assert!(lines[6].contains("127.0.0.1:8080(http-alt) *:*"));
    assert!(lines[7].contains("127.0.0.1:50000"));
    assert!(lines[2].ends_with("│ by process"));
    assert_eq!(buffer[(4, 4)].fg, Color::Cyan);
}

#[test]
fn help_screen_lists_every_key() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char('?'));
    let lines = draw(&app, 100, 24);
    let lines = screen_lines(&lines);
    let text = lines.join("\n");
    for (keys, what) in view::HELP {
        assert!(
            text.contains(keys) && text.contains(what),
            "{keys}: {what}\n{text}"
        );
    }
    let top = lines
        .iter()
        .position(|l| l.contains("Keys · Esc closes"))
        .expect("help box");
    // The box is 76 columns wide, centred on 100.
    let boxed: String = lines[top + 1].chars().skip(12).take(76).collect();
    assert_eq!(
        boxed,
        "│ Up/Down, wheel      move the selection                                   │"
    );
}

#[test]
fn details_popup_shows_owners_and_gone() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Enter);
    let text = screen_lines(&draw(&app, WIDTH, 24)).join("\n");
    for needle in [
        "Socket details · Esc closes",
        "Local    0.0.0.0:80(http)",
        "Inode    11",
        "Owners   2",
        "pid 100  nginx  user www-data",
        "nginx: master process",
        "pid 101  nginx  user www-data",
        "nginx: worker process",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    assert!(!text.contains("gone"));
    feed(&mut app, Vec::new());
    let text = screen_lines(&draw(&app, WIDTH, 24)).join("\n");
    assert!(
        text.contains("gone: no longer in the newest snapshot"),
        "{text}"
    );
}

#[test]
fn details_say_owners_are_as_of_the_last_full_scan_between_scans() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Enter);
    let text = screen_lines(&draw(&app, WIDTH, 24)).join("\n");
    assert!(
        text.contains("Owners   2\n") || text.contains("Owners   2 "),
        "{text}"
    );
    assert!(!text.contains("as of"), "{text}");
    let mut between_scans = snapshot(three_sockets());
    between_scans.owners_as_of = Some(UNIX_EPOCH + Duration::from_secs(12 * 3600 + 34 * 60 + 50));
    app.update(Msg::Snapshot(Box::new(between_scans)));
    let text = screen_lines(&draw(&app, WIDTH, 24)).join("\n");
    assert!(
        text.contains("Owners   2 (as of the last full owner scan, 12:34:50 UTC, or later)"),
        "{text}"
    );
}

#[test]
fn details_of_an_exited_owner_say_exited_and_hint_at_root_only_when_it_applies() {
    let sockets = || {
        vec![
            listener("0.0.0.0:7100", 81, &[999]),
            listener("0.0.0.0:7101", 82, &[]),
        ]
    };
    let details_text = |coverage: OwnerCoverage, down: bool| {
        let mut app = new_app();
        let mut shot = snapshot(sockets());
        shot.owners = coverage;
        app.update(Msg::Snapshot(Box::new(shot)));
        if down {
            press(&mut app, Key::Down);
        }
        press(&mut app, Key::Enter);
        screen_lines(&draw(&app, WIDTH, 24)).join("\n")
    };
    // As root (owners complete) pid 999 was not found: it exited. No advice to become root.
    let text = details_text(OwnerCoverage::Complete, false);
    assert!(text.contains("pid 999  exited"), "{text}");
    assert!(!text.contains("root"), "{text}");
    let text = details_text(OwnerCoverage::Complete, true);
    assert!(!text.contains("run as root"), "{text}");
    // Without root, a socket with no owner may belong to another user: that is where the hint goes.
    let not_root = OwnerCoverage::Incomplete(OwnerGaps {
        not_root: true,
        ..OwnerGaps::default()
    });
    let text = details_text(not_root, true);
    assert!(text.contains("run as root"), "{text}");
    let text = details_text(not_root, false);
    assert!(text.contains("pid 999  exited"), "{text}");
}

#[test]
fn confirm_dialog_names_pid_and_program() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char('k'));
    let text = screen(&app).join("\n");
    assert!(
        text.contains("Send SIGTERM to which process holding this socket?"),
        "{text}"
    );
    assert!(text.contains("pid 100  nginx"), "{text}");
    assert!(text.contains("y: yes · any other key: no"));
}

#[test]
fn untrusted_process_names_are_escaped_on_screen() {
    let mut app = new_app();
    feed(&mut app, vec![listener("0.0.0.0:6666", 1, &[300])]);
    press(&mut app, Key::Enter);
    let buffer = draw(&app, WIDTH, 24);
    let text = screen_lines(&buffer).join("\n");
    assert!(text.contains("evil\\x1b[2J"), "{text}");
    assert!(!buffer.content().iter().any(|c| c.symbol().contains('\x1b')));
}

/// Whether any cell of `buffer` holds an invisible format or separator character.
fn has_format_characters(buffer: &Buffer) -> bool {
    buffer.content().iter().any(|cell| {
        cell.symbol().chars().any(|c| {
            matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
        })
    })
}

#[test]
fn names_cannot_imitate_counts_or_hide_format_characters() {
    let mut app = new_app();
    let mut shot = snapshot(vec![
        listener("0.0.0.0:7001", 71, &[400]),
        listener("0.0.0.0:7002", 72, &[401]),
    ]);
    for process in [
        process(400, "nginx +3", "root", "nginx"),
        process(401, "a\u{202e}b\u{200b}c", "root", "x\u{2028}y\u{feff}z"),
    ] {
        shot.processes.insert(process.pid, process);
    }
    app.update(Msg::Snapshot(Box::new(shot)));
    let buffer = draw(&app, WIDTH, HEIGHT);
    let lines = screen_lines(&buffer);
    let nginx = &lines[screen_row(&buffer, "0.0.0.0:7001") as usize];
    assert!(nginx.contains(" nginx\\x20+3 "), "{nginx}");
    assert!(!nginx.contains("nginx +3"), "{nginx}");
    let other = &lines[screen_row(&buffer, "0.0.0.0:7002") as usize];
    assert!(other.contains(" a\\u{202e}b\\u{"), "{other}");
    assert!(!has_format_characters(&buffer));

    press(&mut app, Key::Down);
    press(&mut app, Key::Enter);
    let buffer = draw(&app, WIDTH, 24);
    let text = screen_lines(&buffer).join("\n");
    assert!(
        text.contains("pid 401  a\\u{202e}b\\u{200b}c  user root"),
        "{text}"
    );
    assert!(text.contains("x\\u{2028}y\\u{feff}z"), "{text}");
    assert!(!has_format_characters(&buffer));

    press(&mut app, Key::Esc);
    press(&mut app, Key::Char('g'));
    let buffer = draw(&app, WIDTH, HEIGHT);
    let text = screen_lines(&buffer).join("\n");
    assert!(text.contains("nginx\\x20+3"), "{text}");
    assert!(!has_format_characters(&buffer));
}

/// The screen lines of a `width` x `height` terminal after telling the app its size.
fn screen_at(app: &mut App, width: u16, height: u16) -> Vec<String> {
    app.update(Msg::Resize { width, height });
    screen_lines(&draw(app, width, height))
}

#[test]
fn at_80_columns_and_narrower_ports_and_service_names_survive() {
    let mut app = new_app();
    let mut sockets = three_sockets();
    sockets.push(socket(
        Proto::Tcp,
        "[2001:db8::1234:5678]:443",
        Some("[2001:db8::9]:61000"),
        SocketState::Established,
        Some(40),
        &[101],
    ));
    feed(&mut app, sockets);
    for width in [80u16, 72] {
        let lines = screen_at(&mut app, width, 24);
        let text = lines.join("\n");
        for needle in [
            ":80(http)",
            ":8080(http-alt)",
            ":50000",
            ":443(https)",
            ":61000",
            "ESTABLISHED",
        ] {
            assert!(text.contains(needle), "{width}: {needle} missing:\n{text}");
        }
        for line in &lines {
            assert!(line.chars().count() <= usize::from(width), "{line}");
        }
        // The footer fits and keeps the keys that matter most.
        let footer = &lines[23];
        assert!(
            footer.contains("q quit") && footer.contains("? help"),
            "{footer}"
        );
        assert!(!footer.ends_with('…'), "{footer}");
    }
    // Narrower still: the ports.
    let text = screen_at(&mut app, 60, 24).join("\n");
    for needle in [":80", ":8080", ":50000", ":443", ":61000"] {
        assert!(text.contains(needle), "60: {needle} missing:\n{text}");
    }
}

#[test]
fn at_80_columns_a_loopback_service_keeps_its_whole_name_on_both_sides() {
    // Both endpoints as long as `127.0.0.1:8080(http-alt)`, owned by a forked python3 with
    // five-digit pids, as on a real machine: the hosts and the user column give way before a
    // service name is cut.
    let mut app = new_app();
    let shared = |local, remote| {
        socket(
            Proto::Tcp,
            local,
            Some(remote),
            SocketState::Established,
            None,
            &[19528, 19529],
        )
    };
    let mut shot = snapshot(vec![
        shared("127.0.0.1:8080", "127.0.0.1:49584"),
        shared("127.0.0.1:49584", "127.0.0.1:8080"),
    ]);
    for pid in [19528, 19529] {
        shot.processes
            .insert(pid, process(pid, "python3", "root", "python3 demo.py"));
    }
    app.update(Msg::Snapshot(Box::new(shot)));
    let lines = screen_at(&mut app, 80, 24);
    let rows: Vec<&String> = lines.iter().filter(|l| l.starts_with("  tcp")).collect();
    assert_eq!(rows.len(), 2, "{lines:#?}");
    for row in rows {
        assert!(row.contains(":8080(http-alt)"), "{row}");
        assert!(row.contains(":49584"), "{row}");
        assert!(row.contains("19528"), "{row}");
        assert!(row.chars().count() <= 80, "{row}");
    }
}

#[test]
fn numeric_columns_are_as_wide_as_their_content() {
    let mut app = new_app();
    let mut busy = connection(
        "127.0.0.1:8080",
        "127.0.0.1:50000",
        SocketState::Established,
        Some(13),
    );
    busy.recv_q = Some(123_456_789);
    busy.send_q = Some(4_000_000_000);
    busy.pids = vec![4_194_303];
    feed(&mut app, vec![busy, listener("0.0.0.0:80", 11, &[100])]);
    let lines = screen_at(&mut app, 80, 24);
    let row = lines.iter().find(|l| l.contains(":50000")).unwrap();
    for number in ["123456789", "4000000000", "4194303"] {
        assert!(row.contains(&format!(" {number} ")), "{number}: {row}");
    }
    // Small numbers take little room: the titles set the width.
    let mut app = new_app();
    feed(&mut app, three_sockets());
    let lines = screen_at(&mut app, 130, 24);
    assert!(lines[3].contains(" Recv-Q Send-Q PID "), "{}", lines[3]);
}

fn long_command_line_owners() -> (App, String) {
    let mut app = new_app();
    let mut shot = snapshot(vec![listener("0.0.0.0:7200", 90, &[500, 501])]);
    let long: String = (0..900).map(|i| format!("a{i:03}x ")).collect();
    let long = format!("java {long}END");
    shot.processes
        .insert(500, process(500, "java", "root", &long));
    shot.processes
        .insert(501, process(501, "helper", "root", "helper --second-owner"));
    app.update(Msg::Snapshot(Box::new(shot)));
    press(&mut app, Key::Enter);
    (app, long)
}

#[test]
fn details_after_a_5kb_command_line_scroll_to_the_next_owner() {
    let (mut app, long) = long_command_line_owners();
    assert!(long.len() > 5000);
    let lines = screen_at(&mut app, 80, 24);
    let text = lines.join("\n");
    assert!(text.contains("pid 500  java"), "{text}");
    assert!(!text.contains("pid 501"), "{text}");
    // The box says there is more, and where.
    assert!(text.contains("more below"), "{text}");
    // Scrolling down line by line, page by page and to the end reaches the co-owner.
    press(&mut app, Key::Down);
    let scrolled = screen_at(&mut app, 80, 24);
    assert_ne!(scrolled, lines);
    press(&mut app, Key::PageDown);
    press(&mut app, Key::End);
    let text = screen_at(&mut app, 80, 24).join("\n");
    assert!(text.contains("pid 501  helper  user root"), "{text}");
    assert!(text.contains("helper --second-owner"), "{text}");
    assert!(text.contains("END"), "{text}");
    assert!(!text.contains("more below"), "{text}");
    // The selection did not move underneath, and Home goes back to the top.
    assert_eq!(app.selected, 0);
    press(&mut app, Key::Home);
    assert_eq!(screen_at(&mut app, 80, 24), lines);
    // Every character of the command line is somewhere in the scrolled text.
    let mut seen = String::new();
    let mut last = Vec::new();
    for _ in 0..200 {
        let now = screen_at(&mut app, 80, 24);
        if now == last {
            break;
        }
        for line in &now[4..23] {
            seen.push_str(line);
        }
        last = now;
        press(&mut app, Key::PageDown);
    }
    for i in 0..900 {
        let word = format!("a{i:03}x");
        assert!(seen.contains(&word), "{word} never showed");
    }
}

#[test]
fn details_height_counts_wrapped_lines() {
    let mut app = new_app();
    let mut shot = snapshot(vec![listener("0.0.0.0:7300", 91, &[600])]);
    let cmdline: String = (0..30).map(|i| format!("arg{i:02} ")).collect();
    let cmdline = format!("{cmdline}LAST");
    shot.processes
        .insert(600, process(600, "tool", "root", &cmdline));
    app.update(Msg::Snapshot(Box::new(shot)));
    press(&mut app, Key::Enter);
    // 200 characters wrap into three lines of a 76-wide box; all of them fit on 40 rows.
    let text = screen_at(&mut app, 80, 40).join("\n");
    assert!(text.contains("LAST"), "{text}");
    assert!(!text.contains("more below"), "{text}");
}

#[test]
fn the_footer_adapts_to_the_width() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    for width in [130u16, 80, 60, 40, 20] {
        let lines = screen_at(&mut app, width, 24);
        let footer = &lines[23];
        assert!(footer.chars().count() <= usize::from(width), "{footer}");
        assert!(footer.contains("? help"), "{width}: {footer}");
        assert!(
            !footer.ends_with(" ·") && !footer.ends_with('…'),
            "{footer}"
        );
    }
    assert!(screen_at(&mut app, 130, 24)[23].contains("k kill"));
}

#[test]
fn header_says_paused_and_why_owners_are_incomplete() {
    let mut app = new_app();
    let mut limited = snapshot(three_sockets());
    limited.owners = OwnerCoverage::Incomplete(OwnerGaps {
        not_root: true,
        ..OwnerGaps::default()
    });
    app.update(Msg::Snapshot(Box::new(limited)));
    press(&mut app, Key::Char(' '));
    let lines = screen(&app);
    assert!(lines[0].ends_with("│ every 1s │ PAUSED"), "{}", lines[0]);
    assert!(
        lines[2].starts_with("owners: incomplete, run as root to see other users' processes"),
        "{}",
        lines[2]
    );
    let mut no_ptrace = snapshot(three_sockets());
    no_ptrace.owners = OwnerCoverage::Incomplete(OwnerGaps {
        no_ptrace: true,
        hidepid: true,
        ..OwnerGaps::default()
    });
    app.update(Msg::Snapshot(Box::new(no_ptrace)));
    press(&mut app, Key::Char(' '));
    let lines = screen(&app);
    assert!(
        lines[2].starts_with("owners: incomplete, no CAP_SYS_PTRACE; /proc hidepid │ showing"),
        "{}",
        lines[2]
    );
}

#[test]
fn before_the_first_snapshot_it_says_collecting() {
    let app = new_app();
    let lines = screen(&app);
    assert_eq!(lines[0], "rnetstat --live │ collecting… │ every 1s");
    assert_eq!(lines[4], "  collecting the first snapshot…");
}

#[test]
fn tiny_and_empty_terminals_never_panic() {
    let mut app = new_app();
    let many: Vec<Socket> = (1..=50)
        .map(|i| listener(&format!("10.0.0.{i}:9000"), i, &[200]))
        .collect();
    feed(&mut app, many);
    press(&mut app, Key::End);
    for (width, height) in [(20, 5), (1, 1), (0, 0), (80, 0), (0, 10), (20, 1), (3, 2)] {
        app.update(Msg::Resize { width, height });
        draw(&app, width, height);
        press(&mut app, Key::Enter);
        draw(&app, width, height);
        press(&mut app, Key::Char('?'));
        draw(&app, width, height);
        press(&mut app, Key::Esc);
        press(&mut app, Key::Char('k'));
        draw(&app, width, height);
        press(&mut app, Key::Esc);
        press(&mut app, Key::Esc);
        press(&mut app, Key::PageUp);
        press(&mut app, Key::PageDown);
    }
    app.update(Msg::Resize {
        width: 20,
        height: 5,
    });
    let lines = screen_lines(&draw(&app, 20, 5));
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0], "rnetstat --live │ ho");
}

#[test]
fn the_window_follows_the_selection_at_scale() {
    let mut app = new_app();
    let many: Vec<Socket> = (0..100_000u32)
        .map(|i| {
            let addr = format!(
                "10.{}.{}.{}:{}",
                i >> 16,
                (i >> 8) & 255,
                i & 255,
                1024 + i % 60000
            );
            listener(&addr, u64::from(i) + 1, &[])
        })
        .collect();
    feed(&mut app, many);
    press(&mut app, Key::End);
    let lines = screen(&app);
    assert!(
        lines[12].starts_with("  tcp   10.1.134.159:"),
        "{}",
        lines[12]
    );
    assert!(lines[12].contains("10.1.134.159"));
    press(&mut app, Key::Char('/'));
    type_text(&mut app, "10.1.134.15");
    assert_eq!(app.table.lines.len(), 1 + 10);
}

#[test]
fn order_kept_across_refreshes_matches_a_full_sort() {
    // Rows added, removed and with changed queues over refreshes, under two sort columns: the
    // incrementally kept order must be what sorting the newest snapshot from scratch gives.
    let sockets = |round: u32| -> Vec<Socket> {
        (0..60u32)
            .filter(|i| !(i + round).is_multiple_of(7))
            .map(|i| {
                let mut s = connection(
                    &format!("10.0.{}.{}:{}", i % 3, i, 1000 + (i * 37) % 50),
                    &format!("10.1.0.{}:443", (i * 11) % 60),
                    if i % 5 == 0 {
                        SocketState::TimeWait
                    } else {
                        SocketState::Established
                    },
                    Some(u64::from(i) + 1),
                );
                s.recv_q = Some((i * round) % 4);
                s
            })
            .collect()
    };
    for column_key in ['2', '5'] {
        let mut kept = new_app();
        press(&mut kept, Key::Char(column_key));
        for round in 0..6 {
            feed(&mut kept, sockets(round));
        }
        let mut fresh = new_app();
        press(&mut fresh, Key::Char(column_key));
        feed(&mut fresh, sockets(5));
        let present = |app: &App| -> Vec<(String, String)> {
            app.table
                .lines
                .iter()
                .filter_map(|line| match line {
                    Line::Socket(row) => Some(&app.table.rows[*row as usize]),
                    Line::Group(_) => None,
                })
                .filter(|row| !row.mark.is_gone())
                .map(|row| (row.local.clone(), row.remote.clone()))
                .collect()
        };
        assert_eq!(present(&kept), present(&fresh), "sort key {column_key}");
    }
}

#[test]
fn every_column_sorts_both_ways_as_the_row_comparison_orders() {
    // resort() sorts copied keys; merging new rows uses the row comparison. They must agree.
    let mut sockets = three_sockets();
    for i in 0..30u32 {
        let mut s = socket(
            if i % 3 == 0 { Proto::Udp } else { Proto::Tcp },
            &if i % 4 == 0 {
                format!("[::1]:{}", 2000 + i % 5)
            } else {
                format!("127.0.0.{}:{}", i % 6, 3000 + i % 4)
            },
            (i % 2 == 0)
                .then(|| format!("10.0.0.{}:80", i % 3))
                .as_deref(),
            SocketState::ALL[(i % 12) as usize],
            (i % 5 != 0).then_some(u64::from(i) + 100),
            [&[][..], &[100], &[200], &[300, 100]][(i % 4) as usize],
        );
        s.recv_q = (i % 7 != 0).then_some(i % 3);
        s.send_q = Some(i % 2);
        s.uid = (i % 3 != 0).then_some(1000);
        sockets.push(s);
    }
    for digit in '1'..='9' {
        let mut app = new_app();
        feed(&mut app, sockets.clone());
        press(&mut app, Key::Char(digit));
        for _ in 0..2 {
            let rows = &app.table.rows;
            let mut expected: Vec<u32> = (0..rows.len() as u32).collect();
            expected.sort_by(|&a, &b| super::table::order(rows, app.table.sort, a, b));
            let shown: Vec<u32> = app
                .table
                .lines
                .iter()
                .map(|line| match line {
                    Line::Socket(row) => *row,
                    Line::Group(_) => unreachable!("not grouped"),
                })
                .collect();
            assert_eq!(
                shown, expected,
                "column {digit}, reverse {}",
                app.table.sort.reverse
            );
            press(&mut app, Key::Char(digit));
        }
    }
}

// ---- live traffic: Rx/s and Tx/s from tcp_info byte counters

/// A connection on `local_port` whose tcp_info says it received `received` bytes and had
/// `acked` bytes acknowledged.
fn counting(local_port: u16, inode: u64, pid: u32, received: u64, acked: u64) -> Socket {
    let mut socket = socket(
        Proto::Tcp,
        &format!("127.0.0.1:{local_port}"),
        Some("127.0.0.1:40000"),
        SocketState::Established,
        Some(inode),
        &[pid],
    );
    socket.tcp_info = Some(Box::new(TcpInfo {
        bytes_received: Some(received),
        bytes_acked: Some(acked),
        ..TcpInfo::default()
    }));
    socket
}

/// Feed `sockets` as a snapshot taken `seconds` after 12:34:56.
fn feed_at(app: &mut App, seconds: f64, sockets: Vec<Socket>) {
    let mut shot = snapshot(sockets);
    shot.taken_at = shot
        .taken_at
        .map(|at| at + Duration::from_secs_f64(seconds));
    assert_eq!(app.update(Msg::Snapshot(Box::new(shot))), None);
}

fn traffic_before() -> Vec<Socket> {
    let udp = socket(
        Proto::Udp,
        "0.0.0.0:53",
        None,
        SocketState::Unconn,
        Some(30),
        &[100],
    );
    vec![
        counting(7001, 21, 200, 1_000, 5_000),
        counting(7002, 22, 200, 0, 0),
        counting(7003, 23, 100, 10_000, 10_000),
        udp,
    ]
}

fn traffic_after() -> Vec<Socket> {
    let mut sockets = traffic_before();
    // 7001: +2 MiB received, +1536 B acked in 2 s; 7002: +512 B received.
    sockets[0] = counting(7001, 21, 200, 1_000 + 2 * 1024 * 1024, 5_000 + 1536);
    sockets[1] = counting(7002, 22, 200, 512, 0);
    // 7003: the counters went back: another connection on the same 4-tuple and inode.
    sockets[2] = counting(7003, 23, 100, 10, 10);
    // 7004 appears now: no rate yet, whatever its counters say.
    sockets.push(counting(7004, 24, 100, 99_999, 99_999));
    sockets
}

fn rate_cells(app: &App, port: &str) -> (String, String) {
    let line = screen(app)
        .into_iter()
        .find(|line| line.contains(port))
        .unwrap_or_else(|| panic!("{port} not on screen"));
    let mut words: Vec<&str> = line.split_whitespace().collect();
    // The rates are the last two cells, each `-` or a number and a unit.
    let mut take_cell = || match words.pop() {
        Some("-") => "-".to_string(),
        Some(unit) if unit.ends_with("/s") => {
            let number = words.pop().unwrap_or_default();
            format!("{number} {unit}")
        }
        _ => panic!("no rates at the end of {line:?}"),
    };
    let tx = take_cell();
    let rx = take_cell();
    (rx, tx)
}

#[test]
fn first_refresh_shows_no_rate() {
    let mut app = new_app();
    feed_at(&mut app, 0.0, traffic_before());
    for port in [":7001", ":7002", ":7003", ":53"] {
        assert_eq!(rate_cells(&app, port), ("-".into(), "-".into()), "{port}");
    }
    assert!(screen(&app)[1].contains("Rx - Tx -"), "{}", screen(&app)[1]);
}

#[test]
fn rates_are_counter_deltas_over_the_real_elapsed_time() {
    let mut app = new_app();
    feed_at(&mut app, 0.0, traffic_before());
    // Two seconds apart, whatever the nominal interval (1 s) says.
    feed_at(&mut app, 2.0, traffic_after());
    assert_eq!(
        rate_cells(&app, ":7001"),
        ("1.0 MiB/s".into(), "768.0 B/s".into())
    );
    assert_eq!(
        rate_cells(&app, ":7002"),
        ("256.0 B/s".into(), "0.0 B/s".into())
    );
    assert_eq!(rate_cells(&app, ":7003"), ("-".into(), "-".into()));
    assert_eq!(rate_cells(&app, ":7004"), ("-".into(), "-".into()));
    assert_eq!(rate_cells(&app, ":53"), ("-".into(), "-".into()));
    let header = &screen(&app)[1];
    // 1 MiB/s + 256 B/s received, 768 B/s acked.
    assert!(header.contains("Rx 1.0 MiB/s Tx 768.0 B/s"), "{header}");
    // One more refresh a second later: 7004 now has a rate, from its own first counters.
    let mut later = traffic_after();
    later[4] = counting(7004, 24, 100, 99_999 + 2048, 99_999);
    feed_at(&mut app, 3.0, later);
    assert_eq!(
        rate_cells(&app, ":7004"),
        ("2.0 KiB/s".into(), "0.0 B/s".into())
    );
    assert_eq!(
        rate_cells(&app, ":7001"),
        ("0.0 B/s".into(), "0.0 B/s".into())
    );
}

#[test]
fn rate_columns_sort_with_keys_0_and_shift_0() {
    let mut app = new_app();
    feed_at(&mut app, 0.0, traffic_before());
    feed_at(&mut app, 1.0, traffic_after());
    press(&mut app, Key::Char('0'));
    // Unknown rates first, then by value; 7001 (2 MiB/s) last.
    let order = locals(&app);
    assert_eq!(order.last().map(String::as_str), Some("127.0.0.1:7001"));
    assert!(
        order.iter().position(|l| l == "127.0.0.1:7002")
            > order.iter().position(|l| l == "127.0.0.1:7003")
    );
    assert!(screen(&app)[3].contains("Rx/s▲"), "{}", screen(&app)[3]);
    press(&mut app, Key::Char('0'));
    assert_eq!(locals(&app)[0], "127.0.0.1:7001");
    press(&mut app, Key::Char(')'));
    assert!(screen(&app)[3].contains("Tx/s▲"), "{}", screen(&app)[3]);
    assert_eq!(
        locals(&app).last().map(String::as_str),
        Some("127.0.0.1:7001")
    );
    // 1-9 still sort the first nine columns.
    press(&mut app, Key::Char('9'));
    assert!(screen(&app)[3].contains("User▲"), "{}", screen(&app)[3]);
}

#[test]
fn groups_sum_their_rates() {
    let mut app = new_app();
    feed_at(&mut app, 0.0, traffic_before());
    feed_at(&mut app, 2.0, traffic_after());
    press(&mut app, Key::Char('g'));
    let lines = screen(&app);
    // python3 (pid 200): 7001 and 7002; nginx (pid 100): only unknown rates.
    assert!(
        lines
            .iter()
            .any(|l| l == "  ▸ python3  2 sockets  pid 200  Rx 1.0 MiB/s  Tx 768.0 B/s"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "  ▸ nginx  3 sockets  pid 100  Rx -  Tx -"),
        "{lines:#?}"
    );
}

#[test]
fn details_show_rates_tcp_info_and_timer() {
    let mut app = new_app();
    feed_at(&mut app, 0.0, traffic_before());
    feed_at(&mut app, 2.0, traffic_after());
    press(&mut app, Key::Char('0'));
    press(&mut app, Key::End);
    press(&mut app, Key::Enter);
    let text = screen_lines(&draw(&app, WIDTH, 30)).join("\n");
    assert!(text.contains("Rx/s     1.0 MiB/s"), "{text}");
    assert!(text.contains("Tx/s     768.0 B/s"), "{text}");
    assert!(text.contains("Timer    -"), "{text}");
    assert!(text.contains("bytes_received:2098152"), "{text}");
}

#[test]
fn at_80_columns_services_survive_wide_rates_and_a_wide_screen_shows_them_whole() {
    let mut app = new_app();
    let mut before = traffic_before();
    let mut after = traffic_after();
    let service = |mut s: Socket| {
        s.local = "127.0.0.1:8080".parse().expect("address");
        s
    };
    before[0] = service(before[0].clone());
    after[0] = service(after[0].clone());
    feed_at(&mut app, 0.0, before);
    feed_at(&mut app, 2.0, after);
    let text = screen_at(&mut app, 80, 24).join("\n");
    assert!(text.contains(":8080(http-alt)"), "{text}");
    // A rate is shown whole or not at all: never a cut number.
    assert!(!text.contains("MiB…") && !text.contains("1.0 M…"), "{text}");
    let wide = screen_at(&mut app, 160, 24).join("\n");
    assert!(
        wide.contains("1.0 MiB/s") && wide.contains("768.0 B/s"),
        "{wide}"
    );
}

#[test]
fn a_gone_connection_has_no_rate_and_leaves_the_sums() {
    let mut app = new_app();
    feed_at(&mut app, 0.0, traffic_before());
    feed_at(&mut app, 2.0, traffic_after());
    press(&mut app, Key::Char('0'));
    let mut last = traffic_after();
    last.remove(0); // 7001, the busy one, closes
    feed_at(&mut app, 3.0, last);
    assert_eq!(rate_cells(&app, ":7001"), ("-".into(), "-".into()));
    assert!(
        screen(&app)[1].contains("Rx 0.0 B/s Tx 0.0 B/s"),
        "{}",
        screen(&app)[1]
    );
    // Sorted by Rx/s, the gone row moved to the unknown end.
    assert_eq!(locals(&app)[0], "127.0.0.1:7001");
    press(&mut app, Key::Char('g'));
    let lines = screen(&app);
    assert!(
        lines
            .iter()
            .any(|l| l == "  ▸ python3  2 sockets  pid 200  Rx 0.0 B/s  Tx 0.0 B/s"),
        "{lines:#?}"
    );
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
