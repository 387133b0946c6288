//! Drawing: `render(&App, &mut Frame)` reads the state and never changes it. Only the rows
//! in view are turned into text, so 100,000 sockets draw as fast as 40.

use std::time::{SystemTime, UNIX_EPOCH};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::{App, Column, Details, Group, KillTarget, Line as TableLine, Mark, Row};
use super::kill;
use crate::filter::Listening;
use crate::format::escaped;
use crate::model::{OwnerCoverage, SocketState};

const HEADER_HEIGHT: u16 = 3;
const FOOTER_HEIGHT: u16 = 1;

pub const NEW_COLOUR: Color = Color::Green;
pub const GONE_COLOUR: Color = Color::Red;
pub const CHANGED_COLOUR: Color = Color::Yellow;

/// The privilege hint, as the one-shot mode words it.
const ROOT_HINT: &str = "run as root to see other users' processes";

struct Areas {
    header: Rect,
    table: Rect,
    footer: Rect,
}

fn areas(area: Rect) -> Areas {
    let [header, table, footer] = Layout::vertical([
        Constraint::Length(HEADER_HEIGHT),
        Constraint::Min(0),
        Constraint::Length(FOOTER_HEIGHT),
    ])
    .areas(area);
    Areas {
        header,
        table,
        footer,
    }
}

/// How many socket rows fit under the column titles on a terminal `height` rows tall
/// (the app pages by this).
pub fn table_rows(height: u16) -> usize {
    usize::from(
        areas(Rect::new(0, 0, 1, height))
            .table
            .height
            .saturating_sub(1),
    )
}

pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let areas = areas(area);
    frame.render_widget(Paragraph::new(header_lines(app)), areas.header);
    render_table(app, frame, areas.table);
    frame.render_widget(Paragraph::new(footer_line(app)), areas.footer);
    if let Some(details) = &app.details {
        render_details(details, app.owners_as_of, frame, areas.table);
    }
    if app.help {
        render_help(frame, area);
    }
    if let Some(target) = &app.confirm {
        render_confirm(target, frame, area);
    }
}

fn separator() -> Span<'static> {
    Span::raw(" │ ")
}

fn header_lines(app: &App) -> Vec<Line<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut title = vec![Span::styled("rnetstat --live", bold)];
    if let Some(host) = &app.hostname {
        title.push(separator());
        title.push(Span::raw(format!("host {}", escaped(host))));
    }
    title.push(separator());
    title.push(Span::raw(match app.taken_at {
        Some(at) => format!("refreshed {}", clock(at)),
        None => "collecting…".to_string(),
    }));
    title.push(separator());
    title.push(Span::raw(format!("every {}s", app.interval.as_secs_f64())));
    if app.paused {
        title.push(separator());
        title.push(Span::styled(
            "PAUSED",
            bold.fg(Color::Black).bg(Color::Yellow),
        ));
    }

    let counts = &app.counts;
    let total = counts.tcp + counts.udp;
    let mut totals = format!(
        "{total} socket{} │ tcp {} │ udp {}",
        if total == 1 { "" } else { "s" },
        counts.tcp,
        counts.udp
    );
    let mut first = true;
    for (state, &count) in SocketState::ALL.iter().zip(&counts.tcp_states) {
        if count > 0 {
            totals.push_str(if first { " │ " } else { ", " });
            totals.push_str(&format!("{} {count}", state.as_str()));
            first = false;
        }
    }

    let mut settings = vec![match app.coverage {
        OwnerCoverage::Complete => Span::raw("owners: complete"),
        OwnerCoverage::LimitedByPrivileges => Span::styled(
            format!("owners: limited, {ROOT_HINT}"),
            Style::new().fg(Color::Yellow),
        ),
        OwnerCoverage::NotCollected => Span::raw("owners: -"),
    }];
    settings.push(separator());
    settings.push(Span::raw(format!("showing {}", describe_query(app))));
    if !app.filter.is_empty() {
        settings.push(separator());
        settings.push(Span::styled(
            format!("filter: {}", escaped(&app.filter)),
            bold,
        ));
    }
    settings.push(separator());
    settings.push(Span::raw(format!(
        "sort: {} {}",
        app.sort.column.title(),
        arrow(app.sort.reverse)
    )));
    if app.grouped {
        settings.push(separator());
        settings.push(Span::raw("by process"));
    }
    vec![Line::from(title), Line::from(totals), Line::from(settings)]
}

fn arrow(reverse: bool) -> &'static str {
    if reverse { "▼" } else { "▲" }
}

/// The flags of the one-shot mode that shape what is collected, in words.
fn describe_query(app: &App) -> String {
    let query = &app.query;
    let mut words = Vec::new();
    match (query.tcp, query.udp) {
        (true, false) => words.push("tcp"),
        (false, true) => words.push("udp"),
        _ => words.push("tcp+udp"),
    }
    match (query.ipv4, query.ipv6) {
        (true, false) => words.push("ipv4"),
        (false, true) => words.push("ipv6"),
        _ => {}
    }
    words.push(match query.listening {
        Listening::All => "all states",
        Listening::Only => "listening",
        Listening::Exclude => "non-listening",
    });
    if app.numeric {
        words.push("numeric");
    }
    words.join(", ")
}

/// Wall-clock time of day in UTC (no time zone database needed on any OS).
fn clock(at: SystemTime) -> String {
    let seconds = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
        % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// Width and alignment of each column of `Column::ALL` for a terminal `width` wide: the two
/// addresses share what the fixed columns leave.
fn column_widths(width: u16) -> [(usize, Align); 9] {
    const MARKER_AND_FIXED: usize = 2 + 6 + 12 + 7 + 7 + 8 + 16 + 10 + 8;
    let rest = usize::from(width).saturating_sub(MARKER_AND_FIXED);
    let local = rest.div_ceil(2).clamp(9, 60);
    let foreign = (rest / 2).clamp(9, 60);
    let program = 16 + rest.saturating_sub(local + foreign).min(24);
    [
        (6, Align::Left),
        (local, Align::Left),
        (foreign, Align::Left),
        (12, Align::Left),
        (7, Align::Right),
        (7, Align::Right),
        (8, Align::Right),
        (program, Align::Left),
        (10, Align::Left),
    ]
}

/// Append `text` padded or shortened to exactly `width` characters. Addresses lose their
/// middle (the port stays readable), everything else its end.
fn push_cell(out: &mut String, text: &str, width: usize, align: Align, middle: bool) {
    let count = text.chars().count();
    if count > width {
        if width == 0 {
            return;
        }
        let keep = width - 1;
        let (head, tail) = if middle {
            (keep - keep / 2, keep / 2)
        } else {
            (keep, 0)
        };
        out.extend(text.chars().take(head));
        out.push('…');
        out.extend(text.chars().skip(count - tail));
        return;
    }
    let padding = width - count;
    if align == Align::Right {
        out.extend(std::iter::repeat_n(' ', padding));
    }
    out.push_str(text);
    if align == Align::Left {
        out.extend(std::iter::repeat_n(' ', padding));
    }
}

fn titles_line(app: &App, widths: &[(usize, Align); 9]) -> String {
    let mut text = String::from("  ");
    for (index, (column, &(width, align))) in Column::ALL.iter().zip(widths).enumerate() {
        if index > 0 {
            text.push(' ');
        }
        let title = if *column == app.sort.column {
            format!("{}{}", column.title(), arrow(app.sort.reverse))
        } else {
            column.title().to_string()
        };
        push_cell(&mut text, &title, width, align, false);
    }
    text
}

fn row_text(row: &Row, widths: &[(usize, Align); 9]) -> String {
    let socket = &row.socket;
    let optional = |value: Option<u32>| value.map_or_else(|| "-".to_string(), |v| v.to_string());
    let program = match (row.program.as_str(), socket.pids.len()) {
        (_, 0) => "-".to_string(),
        ("", 1) => "?".to_string(),
        ("", n) => format!("? +{}", n - 1),
        (name, 1) => name.to_string(),
        (name, n) => format!("{name} +{}", n - 1),
    };
    let cells: [(&str, bool); 9] = [
        (row.proto_text(), false),
        (&row.local, true),
        (&row.remote, true),
        (socket.state.as_str(), false),
        (&optional(socket.recv_q), false),
        (&optional(socket.send_q), false),
        (&optional(socket.pids.first().copied()), false),
        (&program, false),
        (&row.user, false),
    ];
    let mut text = String::with_capacity(160);
    text.push(row.mark.symbol());
    text.push(' ');
    for (index, ((cell, middle), &(width, align))) in cells.iter().zip(widths).enumerate() {
        if index > 0 {
            text.push(' ');
        }
        push_cell(&mut text, cell, width, align, *middle);
    }
    text
}

fn group_text(group: &Group) -> String {
    let name = if group.name.is_empty() {
        "(no known owner)"
    } else {
        group.name.as_str()
    };
    let mut text = format!(
        "  {} {name}  {} socket{}",
        if group.expanded { "▾" } else { "▸" },
        group.sockets,
        if group.sockets == 1 { "" } else { "s" }
    );
    if !group.pids.is_empty() {
        let shown: Vec<String> = group.pids.iter().take(12).map(u32::to_string).collect();
        text.push_str(&format!(
            "  pid{} {}",
            if group.pids.len() == 1 { "" } else { "s" },
            shown.join(", ")
        ));
        if group.pids.len() > shown.len() {
            text.push_str(&format!(" +{} more", group.pids.len() - shown.len()));
        }
    }
    text
}

pub fn mark_style(mark: Mark) -> Style {
    match mark {
        Mark::None => Style::new(),
        Mark::New(_) => Style::new().fg(NEW_COLOUR),
        Mark::Gone(_) => Style::new().fg(GONE_COLOUR),
        Mark::Changed(_) => Style::new().fg(CHANGED_COLOUR),
    }
}

fn render_table(app: &App, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let widths = column_widths(area.width);
    let mut lines = vec![Line::styled(
        titles_line(app, &widths),
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    )];
    let rows = usize::from(area.height - 1);
    if app.lines.is_empty() {
        let why = if app.snapshots_seen == 0 {
            "collecting the first snapshot…"
        } else if !app.filter.is_empty() {
            "no socket matches the filter"
        } else {
            "no sockets"
        };
        lines.push(Line::styled(
            format!("  {why}"),
            Style::new().add_modifier(Modifier::DIM),
        ));
    }
    // The window always holds the selection, even before the app has heard the new size.
    let mut start = app.offset.min(app.selected);
    if rows > 0 && app.selected >= start + rows {
        start = app.selected + 1 - rows;
    }
    let end = app.lines.len().min(start.saturating_add(rows));
    for position in start..end.max(start) {
        let (text, style) = match app.lines[position] {
            TableLine::Socket(row) => {
                let row = &app.rows[row as usize];
                (row_text(row, &widths), mark_style(row.mark))
            }
            TableLine::Group(group) => (
                group_text(&app.groups[group as usize]),
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            ),
        };
        let style = if position == app.selected {
            style.add_modifier(Modifier::REVERSED)
        } else {
            style
        };
        lines.push(Line::styled(text, style));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

const KEY_HINTS: &str =
    "q quit · ? help · / filter · 1-9 sort · g group · space pause · Enter details · k kill";

fn footer_line(app: &App) -> Line<'static> {
    if app.typing {
        return Line::from(vec![
            Span::styled(
                format!("/{}█", escaped(&app.filter)),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw("  Enter keep · Esc clear · Backspace delete"),
        ]);
    }
    match &app.status {
        Some(status) => Line::styled(status.clone(), Style::new().add_modifier(Modifier::BOLD)),
        None => Line::styled(KEY_HINTS, Style::new().add_modifier(Modifier::DIM)),
    }
}

/// A `width` x `height` box in the middle of `area`, never larger than it.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

fn field(name: &str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(
            format!("{name:<9}"),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(value),
    ])
}

fn render_details(
    details: &Details,
    owners_as_of: Option<SystemTime>,
    frame: &mut Frame,
    area: Rect,
) {
    let row = &details.last;
    let socket = &row.socket;
    let optional = |value: Option<u64>| value.map_or_else(|| "-".to_string(), |v| v.to_string());
    let mut lines = Vec::new();
    if details.gone {
        lines.push(Line::styled(
            "gone: no longer in the newest snapshot (as last seen)",
            Style::new().fg(GONE_COLOUR).add_modifier(Modifier::BOLD),
        ));
    }
    lines.push(field("Proto", row.proto_text().to_string()));
    lines.push(field("Local", row.local.clone()));
    lines.push(field("Foreign", row.remote.clone()));
    lines.push(field("State", socket.state.as_str().to_string()));
    lines.push(field("Recv-Q", optional(socket.recv_q.map(u64::from))));
    lines.push(field("Send-Q", optional(socket.send_q.map(u64::from))));
    lines.push(field(
        "UID",
        match socket.uid {
            Some(uid) => format!("{uid} ({})", row.user),
            None => "-".to_string(),
        },
    ));
    lines.push(field("Inode", optional(socket.inode)));
    lines.push(field(
        "Owners",
        match owners_as_of {
            // Between full scans: a process that began sharing the socket since is not found.
            Some(at) => format!(
                "{} (as of the last full owner scan, {}, or later)",
                details.owners.len(),
                clock(at)
            ),
            None => details.owners.len().to_string(),
        },
    ));
    for (pid, process) in &details.owners {
        match process {
            Some(process) => {
                lines.push(Line::from(format!(
                    "  pid {pid}  {}  user {}",
                    escaped(&process.name),
                    process
                        .user
                        .as_deref()
                        .map_or_else(|| "-".to_string(), escaped)
                )));
                lines.push(Line::styled(
                    format!(
                        "    {}",
                        process
                            .cmdline
                            .as_deref()
                            .map_or_else(|| "(command line not available)".to_string(), escaped)
                    ),
                    Style::new().add_modifier(Modifier::DIM),
                ));
            }
            None => lines.push(Line::from(format!(
                "  pid {pid}  (exited, or not visible: {ROOT_HINT})"
            ))),
        }
    }
    let height = (lines.len() as u16).saturating_add(2);
    let popup = centered(area, area.width.saturating_sub(4).max(60), height);
    draw_wrapped_popup(frame, popup, lines, " Socket details · Esc closes ");
}

pub const HELP: &[(&str, &str)] = &[
    ("Up/Down, wheel", "move the selection"),
    (
        "PgUp/PgDn, Home/End",
        "move by a page, to the top or bottom",
    ),
    ("1-9", "sort by column 1-9 (Proto … User); again: reverse"),
    ("/", "filter as you type: Enter keeps it, Esc clears it"),
    ("g", "group by process; Enter/Right expands, Left collapses"),
    ("Enter", "details of the selected socket (Esc closes)"),
    ("space", "pause the view (collection goes on)"),
    ("k", "kill the socket's process (SIGTERM, asks first)"),
    ("?", "this help (Esc closes)"),
    ("q, Esc, Ctrl-C", "quit"),
    ("", ""),
    ("+ green", "new since the last refresh"),
    ("- red", "gone (stays 3 refreshes)"),
    ("~ yellow", "state changed"),
];

fn render_help(frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {keys:<20}"),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    let popup = centered(area, 76, HELP.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys · Esc closes ")),
        popup,
    );
}

fn render_confirm(target: &KillTarget, frame: &mut Frame, area: Rect) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::from(if target.owners.len() == 1 {
        "Send SIGTERM to the process holding this socket?"
    } else {
        "Send SIGTERM to which process holding this socket?"
    })];
    let pid_width = target
        .owners
        .iter()
        .map(|(pid, _)| pid.to_string().len())
        .max()
        .unwrap_or(1);
    // Owners that fit beside the question, the key line, the borders and two "more" lines:
    // the chosen one is always among them, so what `y` signals is on screen.
    let fits = usize::from(area.height.saturating_sub(6)).max(1);
    let first = target
        .selected
        .saturating_sub(fits - 1)
        .min(target.owners.len().saturating_sub(fits));
    let shown = first..(first + fits).min(target.owners.len());
    if first > 0 {
        lines.push(Line::from(format!("  … {first} more above")));
    }
    let below = target.owners.len() - shown.end;
    for (index, (pid, program)) in target.owners.iter().enumerate().skip(first).take(fits) {
        let chosen = index == target.selected;
        let mut text = format!(
            "{} pid {pid:<pid_width$}  {program}",
            if chosen { '>' } else { ' ' }
        );
        if let Some(why) = kill::refusal(*pid) {
            text.push_str(&format!("  (refused: {why})"));
        }
        lines.push(if chosen {
            Line::styled(text, Style::new().add_modifier(Modifier::REVERSED))
        } else {
            Line::from(text)
        });
    }
    if below > 0 {
        lines.push(Line::from(format!("  … {below} more below")));
    }
    lines.push(Line::styled(
        if target.owners.len() == 1 {
            "y: yes · any other key: no"
        } else {
            "Up/Down: choose · y: yes · any other key: no"
        },
        bold,
    ));
    let popup = centered(area, 64, lines.len() as u16 + 2);
    draw_wrapped_popup(frame, popup, lines, " Kill process ");
}

/// Clear `popup` and draw `lines` in a titled box there, wrapping long lines.
fn draw_wrapped_popup(frame: &mut Frame, popup: Rect, lines: Vec<Line<'_>>, title: &str) {
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title)),
        popup,
    );
}
