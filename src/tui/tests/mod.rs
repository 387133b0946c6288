//! The dashboard driven by messages and drawn into ratatui's `TestBackend`: hand-made
//! snapshots, no sockets, no terminal, no sleeps. The helpers are here; the tests are split as
//! the dashboard is: the table, the `/` search, the app's keys and dialogs, details, the view.

mod app;
mod contexts;
mod details;
mod names;
mod search;
mod table;
mod toggles;
mod view;

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use super::app::App;
use super::kill::KillOwner;
use super::kill::ProcessStart;
use super::msg::{Effect, Key, Msg};
use super::rows::{Grouping, Mark};
use super::table::Line;
use crate::filter::{Listening, Query};
use crate::model::{
    ByteCounters, OwnerCoverage, OwnerGaps, Process, Proto, Snapshot, Socket, SocketState, TcpInfo,
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
        resolve: false,
        interval: Duration::from_secs(1),
        filter: String::new(),
        parsed_filter: None,
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
        cgroup: None,
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
                Some((row.mark.symbol(), row.local_text()))
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
        .draw(|frame| crate::tui::view::render(app, frame))
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

/// Whether any cell of `buffer` holds an invisible format or separator character.
fn has_format_characters(buffer: &Buffer) -> bool {
    buffer.content().iter().any(|cell| {
        cell.symbol().chars().any(|c| {
            matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
        })
    })
}

/// The screen lines of a `width` x `height` terminal after telling the app its size.
fn screen_at(app: &mut App, width: u16, height: u16) -> Vec<String> {
    app.update(Msg::Resize { width, height });
    screen_lines(&draw(app, width, height))
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
    // As the collector gives them: the counters also where tcp_info is not kept whole.
    socket.bytes = Some(ByteCounters {
        received: Some(received),
        acked: Some(acked),
    });
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
