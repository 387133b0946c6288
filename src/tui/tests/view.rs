//! Whole frames: layout, colours, columns at every width, escaping, the header and footer.

use super::*;

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
        "q quit · ? help · / filter · 1-9 sort · g group · space pause · Enter details · k kill · x close",
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
    for (keys, what) in crate::tui::view::HELP {
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
        // At 80 the listeners' backlog stays, and every IPv4 address is whole with its port, a
        // service losing its end first; at 72 the hosts give way before the ports.
        let more: &[&str] = if width == 80 {
            &[
                "127.0.0.1:8080(http",
                "127.0.0.1:50000",
                "[2001:db8::9]:61000",
                " 128 ",
            ]
        } else {
            &["127.0.0.1:8080 "]
        };
        for needle in [":80(http)", ":50000", ":443", ":61000", "ESTABLISHED"]
            .iter()
            .chain(more)
        {
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
fn at_80_columns_the_program_keeps_ten_characters_and_both_ports_stay() {
    // Both endpoints as long as `127.0.0.1:8080(http-alt)`, owned by a forked python3 with
    // five-digit pids, as on a real machine: the user column, the empty queues and the service
    // names give way before the program loses any of `python3 +1` (issue 20: not `pytho…`) or
    // an IPv4 address any of its host and port (not `1…:49584`).
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
        assert!(row.contains("127.0.0.1:8080"), "{row}");
        assert!(row.contains("127.0.0.1:49584"), "{row}");
        assert!(row.contains("19528 python3 +1"), "{row}");
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
fn the_state_counts_of_the_header_are_whole_or_left_out_with_an_ellipsis() {
    let mut app = new_app();
    let mut sockets = three_sockets();
    for (port, state) in [
        (40001, SocketState::TimeWait),
        (40002, SocketState::CloseWait),
        (40003, SocketState::FinWait2),
    ] {
        sockets.push(socket(
            Proto::Tcp,
            &format!("127.0.0.1:{port}"),
            Some("127.0.0.1:8080"),
            state,
            None,
            &[],
        ));
    }
    feed(&mut app, sockets);
    let wide = screen_at(&mut app, 200, 24);
    for state in ["ESTABLISHED 1", "FIN_WAIT2 1", "CLOSE_WAIT 1", "LISTEN 2"] {
        assert!(wide[1].contains(state), "{state}: {}", wide[1]);
    }
    for width in [80u16, 70, 60] {
        let line = &screen_at(&mut app, width, 24)[1];
        let line = line.trim_end();
        assert!(line.chars().count() <= usize::from(width), "{line}");
        // Every state shown is whole: the line ends with a count or with `, …`.
        assert!(
            line.ends_with(", …") || line.ends_with(|c: char| c.is_ascii_digit()),
            "{width}: {line}"
        );
    }
}

#[test]
fn a_slowed_refresh_is_said_in_the_header_and_a_kept_one_is_not() {
    use crate::tui::pause_after;
    let second = Duration::from_secs(1);
    let ms = Duration::from_millis;
    // Cheap refreshes keep the interval; a third of a second waits nine times that, and the
    // app's merging counts too.
    assert_eq!(pause_after(ms(20), ms(5), second), ms(980));
    assert_eq!(pause_after(ms(100), ms(0), second), ms(900));
    assert_eq!(pause_after(ms(300), ms(0), second), ms(2700));
    assert_eq!(pause_after(ms(300), ms(100), second), ms(3700));
    assert_eq!(
        pause_after(Duration::from_secs(2), ms(0), second),
        Duration::from_secs(18)
    );

    let mut app = new_app();
    feed(&mut app, three_sockets());
    app.update(Msg::Cadence(Duration::from_millis(1020)));
    let header = screen_at(&mut app, 100, 24)[0].clone();
    assert!(
        header.contains("every 1s") && !header.contains("asked"),
        "{header}"
    );
    app.update(Msg::Cadence(Duration::from_millis(3000)));
    let header = screen_at(&mut app, 100, 24)[0].clone();
    assert!(header.contains("every 3.0s (asked 1s)"), "{header}");
    app.update(Msg::Cadence(Duration::from_millis(1000)));
    let header = screen_at(&mut app, 100, 24)[0].clone();
    assert!(!header.contains("asked"), "{header}");
}
