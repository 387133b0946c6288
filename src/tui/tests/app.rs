//! Keys, selection, paging, pause, paste, quitting and the kill dialog.

use super::*;

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
        app.row_at(app.selected).map(|r| r.local_text()),
        Some("10.0.0.3:9000".to_string())
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
    let page = crate::tui::layout::table_rows(HEIGHT);
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

// ---- the close dialog (x)

/// A connection owned by `pids`, with a cookie, and a UDP socket beside the three sockets.
fn closable_sockets(pids: &[u32]) -> Vec<Socket> {
    let mut sockets = three_sockets();
    sockets[2].pids = pids.to_vec();
    sockets[2].cookie = Some(4242);
    sockets.push(socket(
        Proto::Udp,
        "127.0.0.1:5353",
        Some("127.0.0.1:53"),
        SocketState::Established,
        Some(40),
        &[200],
    ));
    sockets
}

/// Select the row whose local and remote text are these.
fn select(app: &mut App, local: &str, remote: &str) {
    press(app, Key::Home);
    for _ in 0..app.table.lines.len() {
        let row = app.row_at(app.selected).expect("a socket row");
        if row.local_text() == local && row.remote_text() == remote {
            return;
        }
        press(app, Key::Down);
    }
    panic!("no row {local} {remote}");
}

#[test]
fn close_on_a_listener_or_udp_says_why_and_asks_nothing() {
    let mut app = new_app();
    feed(&mut app, closable_sockets(&[200]));
    select(&mut app, "0.0.0.0:80(http)", "*:*");
    assert_eq!(press(&mut app, Key::Char('x')), None);
    assert!(app.close.is_none());
    assert_eq!(
        app.status.as_deref(),
        Some("cannot close: a listening socket is not a connection")
    );
    select(&mut app, "127.0.0.1:5353(mdns)", "127.0.0.1:53(domain)");
    assert_eq!(press(&mut app, Key::Char('x')), None);
    assert!(app.close.is_none());
    assert_eq!(
        app.status.as_deref(),
        Some("cannot close: only TCP connections can be closed")
    );
}

#[test]
fn close_asks_first_and_only_y_confirms() {
    let mut app = new_app();
    feed(&mut app, closable_sockets(&[200]));
    select(&mut app, "127.0.0.1:8080(http-alt)", "127.0.0.1:50000");
    assert_eq!(press(&mut app, Key::Char('x')), None);
    let connection = crate::platform::Connection {
        local: "127.0.0.1:8080".parse().unwrap(),
        remote: "127.0.0.1:50000".parse().unwrap(),
        cookie: Some(4242),
        netns: None,
    };
    let target = app.close.clone().expect("the close dialog");
    assert_eq!(target.connection, connection);
    assert_eq!(target.owners, ["pid 200 python3"]);
    // Any other key cancels, even q and Enter, and says so.
    for key in [Key::Char('n'), Key::Char('q'), Key::Enter, Key::Esc] {
        assert_eq!(press(&mut app, key), None, "{key:?}");
        assert!(app.close.is_none());
        assert_eq!(
            app.status.as_deref(),
            Some("close of tcp 127.0.0.1:8080 ↔ 127.0.0.1:50000 cancelled")
        );
        press(&mut app, Key::Char('x'));
    }
    // A refresh while the dialog is open does not change what y closes.
    let mut later = closable_sockets(&[200]);
    later.remove(2);
    feed(&mut app, later);
    assert_eq!(
        press(&mut app, Key::Char('y')),
        Some(Effect::Close(connection))
    );
    assert!(app.close.is_none());
    app.update(Msg::Closed {
        connection,
        result: Err("the connection is already gone".to_string()),
    });
    assert_eq!(
        app.status.as_deref(),
        Some(
            "could not close tcp 127.0.0.1:8080 ↔ 127.0.0.1:50000: the connection is already gone"
        )
    );
    app.update(Msg::Closed {
        connection,
        result: Ok(()),
    });
    assert_eq!(
        app.status.as_deref(),
        Some("closed tcp 127.0.0.1:8080 ↔ 127.0.0.1:50000")
    );
}

#[test]
fn close_from_the_details_closes_the_detailed_socket() {
    let mut app = new_app();
    feed(&mut app, closable_sockets(&[200]));
    select(&mut app, "127.0.0.1:8080(http-alt)", "127.0.0.1:50000");
    press(&mut app, Key::Enter);
    assert!(app.details.is_some());
    press(&mut app, Key::Char('x'));
    let target = app.close.clone().expect("the close dialog");
    assert_eq!(target.connection.remote, "127.0.0.1:50000".parse().unwrap());
}

#[test]
fn close_dialog_names_both_ends_and_every_owner_escaped() {
    let mut app = new_app();
    feed(&mut app, closable_sockets(&[200, 300]));
    select(&mut app, "127.0.0.1:8080(http-alt)", "127.0.0.1:50000");
    press(&mut app, Key::Char('x'));
    let lines = screen_at(&mut app, 130, 24);
    let text = lines.join("\n");
    for wanted in [
        "Close connection",
        "Close this TCP connection? The kernel resets it (ss -K).",
        "local   127.0.0.1:8080 ",
        "remote  127.0.0.1:50000 ",
        "owner   pid 200 python3 ",
        "pid 300 evil\\x1b[2J ",
        "y: yes · any other key: no",
    ] {
        assert!(text.contains(wanted), "{wanted:?} not in:\n{text}");
    }
    assert!(!text.contains('\x1b'));
    // A paste while it is open is not taken as keys.
    app.update(Msg::Paste("y".to_string()));
    assert!(app.close.is_some());
}
