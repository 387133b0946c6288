//! Merging snapshots into rows: marks, identity across refreshes, order, grouping, rates.

use super::*;

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
        assert_eq!(gone[0].remote_text(), "127.0.0.1:50000");
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
        .find(|r| r.remote_text() == "127.0.0.1:50000");
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
            .find(|r| r.remote_text() == "127.0.0.1:50000");
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
        .find(|r| r.remote_text() == "127.0.0.1:50000");
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
    assert_eq!(row.map(|r| &*r.program), Some("evil\\x1b[2J"));
}

// ---- update(): pause, filter, sort, selection

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
                Line::Socket(r) => Some(app.table.rows[*r as usize].program.to_string()),
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
            Line::Socket(r) => Some(app.table.rows[*r as usize].remote_text()),
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
fn grouping_by_process_expands_and_collapses() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    press(&mut app, Key::Char('g'));
    assert_eq!(app.table.grouping, Grouping::Process);
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
    // g goes on to by container and by unit, then back to no groups.
    for grouping in [Grouping::Container, Grouping::Unit, Grouping::None] {
        press(&mut app, Key::Char('g'));
        assert_eq!(app.table.grouping, grouping);
    }
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
                .map(|row| (row.local_text(), row.remote_text()))
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
            expected.sort_by(|&a, &b| crate::tui::table::order(rows, app.table.sort, a, b));
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
