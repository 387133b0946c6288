//! The details popup: what it says, how it follows its socket and scrolls.

use super::*;

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
fn tcp_info_is_kept_whole_for_rows_in_view_and_rates_for_all() {
    let mut app = new_app();
    let sockets = |received: u64| -> Vec<Socket> {
        (0..400u16)
            .map(|i| counting(10_000 + i, u64::from(i) + 1, 200, received, received))
            .collect()
    };
    feed_at(&mut app, 0.0, sockets(1_000));
    feed_at(&mut app, 2.0, sockets(3_000));
    let far = app
        .table
        .rows
        .iter()
        .find(|row| row.local_text().contains(":10399"));
    let far = far.expect("the last socket's row");
    // Out of view: no tcp_info kept, the rate still known (1,000 B/s).
    assert!(far.socket.tcp_info.is_none());
    assert_eq!(far.rx_rate, Some(1_000.0));
    let near = app
        .table
        .rows
        .iter()
        .find(|row| row.local_text().contains(":10000"));
    assert!(near.expect("the first row").socket.tcp_info.is_some());
    let whole = app
        .table
        .rows
        .iter()
        .filter(|row| row.socket.tcp_info.is_some());
    assert!(whole.count() < 100, "tcp_info kept for rows out of view");

    // Scrolled to: the details say when tcp_info comes, and the next refresh brings it.
    press(&mut app, Key::End);
    press(&mut app, Key::Enter);
    let text = screen_lines(&draw(&app, WIDTH, 30)).join("\n");
    assert!(text.contains(":10399"), "{text}");
    assert!(text.contains("TCP info at the next refresh"), "{text}");
    feed_at(&mut app, 4.0, sockets(5_000));
    let text = screen_lines(&draw(&app, WIDTH, 30)).join("\n");
    assert!(text.contains("bytes_received:5000"), "{text}");
    assert!(text.contains("Rx/s     1000.0 B/s"), "{text}");
}
