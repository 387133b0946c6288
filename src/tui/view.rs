//! Drawing: `render(&App, &mut Frame)` reads the state and never changes it. Only the rows
//! in view are turned into text, so 100,000 sockets draw as fast as 40.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::{App, Details, KillTarget};
use super::kill;
use super::rows::{Column, Mark, Row};
use super::table::{Group, Line as TableLine};
use crate::filter::Listening;
use crate::format::{endpoint_tail_start, escaped, escaped_name, push_tcp_info, rate};
use crate::model::{OwnerCoverage, SocketState};

const HEADER_HEIGHT: u16 = 3;
const FOOTER_HEIGHT: u16 = 1;

pub const NEW_COLOUR: Color = Color::Green;
pub const GONE_COLOUR: Color = Color::Red;
pub const CHANGED_COLOUR: Color = Color::Yellow;

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
    frame.render_widget(
        Paragraph::new(header_lines(app, usize::from(areas.header.width))),
        areas.header,
    );
    render_table(app, frame, areas.table);
    frame.render_widget(
        Paragraph::new(footer_line(app, areas.footer.width)),
        areas.footer,
    );
    if let Some(details) = &app.details {
        render_details(details, app.coverage, frame, areas.table);
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

fn header_lines(app: &App, width: usize) -> Vec<Line<'static>> {
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

    let counts = &app.table.counts;
    let total = counts.tcp + counts.udp;
    let mut totals = format!(
        "{total} socket{} │ tcp {} │ udp {} │ Rx {} Tx {}",
        if total == 1 { "" } else { "s" },
        counts.tcp,
        counts.udp,
        optional_rate(counts.rx_rate),
        optional_rate(counts.tx_rate),
    );
    let mut first = true;
    for (state, &count) in SocketState::ALL.iter().zip(&counts.tcp_states) {
        if count > 0 {
            totals.push_str(if first { " │ " } else { ", " });
            totals.push_str(&format!("{} {count}", state.as_str()));
            first = false;
        }
    }

    // The filter leads: on a narrow terminal the end of this line is cut, and a filter in force
    // must never be out of sight.
    let mut settings = Vec::new();
    if !app.table.filter.is_empty() {
        let filter = format!("filter: {}", escaped(&app.table.filter));
        let mode = match app.filter_error() {
            None if app.filter_is_expression() => " (expression)".to_string(),
            None => String::new(),
            // The parse error is cut to leave the rest of the line some room where it can.
            Some(error) => {
                let rest = width.saturating_sub(filter.chars().count() + " (search; )".len());
                let room = rest.saturating_sub(30).max(rest.min(30));
                let why = fit(&format!("not an expression at {error}"), room);
                format!(" (search; {why})")
            }
        };
        settings.push(Span::styled(filter, bold));
        settings.push(Span::raw(mode));
        settings.push(separator());
    }
    settings.push(match app.coverage {
        OwnerCoverage::Complete => Span::raw("owners: complete"),
        OwnerCoverage::Incomplete(gaps) => Span::styled(
            format!("owners: incomplete, {}", gaps.labels()),
            Style::new().fg(Color::Yellow),
        ),
        OwnerCoverage::NotCollected => Span::raw("owners: -"),
    });
    settings.push(separator());
    settings.push(Span::raw(format!("showing {}", describe_query(app))));
    settings.push(separator());
    settings.push(Span::raw(format!(
        "sort: {} {}",
        app.table.sort.column.title(),
        arrow(app.table.sort.reverse)
    )));
    if app.table.grouped {
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
pub(super) fn clock(at: SystemTime) -> String {
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

/// How a cell too wide for its column is shortened; what it names is kept whole, the rest of
/// the head loses its end to `…`.
#[derive(Clone, Copy)]
enum Shorten {
    /// Cut the end.
    End,
    /// Keep the text from this byte on (a program's ` +N`).
    Tail(usize),
    /// An endpoint: keep `:port(service)` from `port` on, or at least `:port` up to `service`.
    Endpoint { port: usize, service: usize },
}

impl Shorten {
    fn endpoint(text: &str) -> Shorten {
        let port = endpoint_tail_start(text);
        let service = text[port..].find('(').map_or(text.len(), |at| port + at);
        Shorten::Endpoint { port, service }
    }
}

const COLUMNS: usize = Column::ALL.len();

/// One socket row as text, cell by cell in `Column::ALL` order.
struct RowCells<'a> {
    texts: [Cow<'a, str>; COLUMNS],
    shorten: [Shorten; COLUMNS],
}

fn row_cells(row: &Row) -> RowCells<'_> {
    let socket = &row.socket;
    let optional = |value: Option<u32>| value.map_or(Cow::Borrowed("-"), |v| v.to_string().into());
    let program: Cow<str> = match (row.program.as_str(), socket.pids.len()) {
        (_, 0) => "-".into(),
        ("", 1) => "?".into(),
        ("", n) => format!("? +{}", n - 1).into(),
        (name, 1) => name.into(),
        (name, n) => format!("{name} +{}", n - 1).into(),
    };
    // Names are escaped as words (no spaces), so a space starts the count.
    let program_tail = program.rfind(' ').unwrap_or(program.len());
    RowCells {
        shorten: [
            Shorten::End,
            Shorten::endpoint(&row.local),
            Shorten::endpoint(&row.remote),
            Shorten::End,
            Shorten::End,
            Shorten::End,
            Shorten::End,
            Shorten::Tail(program_tail),
            Shorten::End,
            Shorten::End,
            Shorten::End,
        ],
        texts: [
            row.proto_text().into(),
            row.local.as_str().into(),
            row.remote.as_str().into(),
            socket.state.as_str().into(),
            optional(socket.recv_q),
            optional(socket.send_q),
            optional(socket.pids.first().copied()),
            program,
            row.user.as_str().into(),
            optional_rate(row.rx_rate),
            optional_rate(row.tx_rate),
        ],
    }
}

const ALIGN: [Align; COLUMNS] = [
    Align::Left,
    Align::Left,
    Align::Left,
    Align::Left,
    Align::Right,
    Align::Right,
    Align::Right,
    Align::Left,
    Align::Left,
    Align::Right,
    Align::Right,
];

const LOCAL: usize = 1;
const FOREIGN: usize = 2;
const PROGRAM: usize = 7;
const USER: usize = 8;
const RX_RATE: usize = 9;
const TX_RATE: usize = 10;

fn optional_rate(value: Option<f64>) -> Cow<'static, str> {
    value.map_or(Cow::Borrowed("-"), |v| rate(v).into())
}

/// Width and alignment of each column of `Column::ALL` for a terminal `width` wide, from the
/// column titles and the rows in view. Every column is as wide as its widest cell. When that
/// does not fit, columns shrink by priority, in rounds: user, the rates (round two hides them
/// whole, before the addresses lose their services) and program first, then the two
/// addresses (the wider one first). Round one hides the user, keeps six characters of the
/// program (`py… +1`) and every address's whole `:port(service)` after one character of its
/// host: at 80 columns `127.0.0.1:8080(http-alt)` on both sides still shows its service; round
/// two keeps the ports (services as far as they fit); round three leaves one character.
fn column_widths(
    width: u16,
    titles: &[String; COLUMNS],
    rows: &[&RowCells],
) -> [(usize, Align); COLUMNS] {
    let mut widths: [usize; COLUMNS] = std::array::from_fn(|i| titles[i].chars().count());
    let mut keep_service = [0usize; COLUMNS];
    let mut keep_port = [0usize; COLUMNS];
    keep_service[USER] = 0;
    keep_service[PROGRAM] = 6;
    keep_port[USER] = 0;
    keep_port[PROGRAM] = 6;
    for cells in rows {
        for (index, text) in cells.texts.iter().enumerate() {
            let count = text.chars().count();
            widths[index] = widths[index].max(count);
            let chars = |from: usize, to: usize| text[from..to].chars().count();
            let (service, port) = match cells.shorten[index] {
                Shorten::End => continue,
                Shorten::Tail(tail) => (chars(tail, text.len()) + 2, chars(tail, text.len()) + 2),
                Shorten::Endpoint { port, service } => {
                    (chars(port, text.len()) + 2, chars(port, service) + 1)
                }
            };
            keep_service[index] = keep_service[index].max(service.min(count));
            keep_port[index] = keep_port[index].max(port.min(count));
        }
    }
    // The rates keep their width while services are kept, and go before ports would.
    for index in [RX_RATE, TX_RATE] {
        keep_service[index] = widths[index];
    }
    let available = usize::from(width);
    for floor in [keep_service, keep_port, [0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]] {
        shrink(&mut widths, &floor, available);
    }
    std::array::from_fn(|i| (widths[i], ALIGN[i]))
}

/// The characters a row takes: marker, cells, and a space between shown (non-empty) columns.
fn row_width(widths: &[usize; COLUMNS]) -> usize {
    let shown = widths.iter().filter(|&&w| w > 0).count();
    2 + widths.iter().sum::<usize>() + shown.saturating_sub(1)
}

/// Narrow user, program, then the addresses (the wider first) towards `floor` until the row
/// fits in `available`; a column narrowed to 0 is hidden.
fn shrink(widths: &mut [usize; COLUMNS], floor: &[usize; COLUMNS], available: usize) {
    let over = |widths: &[usize; COLUMNS]| row_width(widths).saturating_sub(available);
    for index in [USER, TX_RATE, RX_RATE, PROGRAM] {
        let slack = widths[index].saturating_sub(floor[index]);
        let over = over(widths);
        // A cut rate would mislead: it is whole or hidden.
        let all_or_nothing = matches!(index, RX_RATE | TX_RATE) && over > 0;
        // Hiding a column also frees the space before it.
        widths[index] -= if floor[index] == 0 && (over >= widths[index] || all_or_nothing) {
            widths[index]
        } else {
            over.min(slack)
        };
    }
    loop {
        let over = over(widths);
        let slack = |i: usize| widths[i].saturating_sub(floor[i]);
        // The wider address gives first; on a tie, the foreign one.
        let (first, second) = if widths[LOCAL] > widths[FOREIGN] {
            (LOCAL, FOREIGN)
        } else {
            (FOREIGN, LOCAL)
        };
        let index = if slack(first) > 0 { first } else { second };
        if over == 0 || slack(index) == 0 {
            return;
        }
        let other = if index == LOCAL { FOREIGN } else { LOCAL };
        let step = if slack(other) > 0 && widths[index] > widths[other] {
            widths[index] - widths[other]
        } else {
            1
        };
        widths[index] -= step.min(slack(index)).min(over).max(1);
    }
}

/// Append `text` padded or shortened to exactly `width` characters (see [`Shorten`]).
fn push_cell(out: &mut String, text: &str, width: usize, align: Align, shorten: Shorten) {
    let count = text.chars().count();
    if count > width {
        if width == 0 {
            return;
        }
        let tail_start = match shorten {
            Shorten::End => None,
            Shorten::Tail(start) => Some(start),
            Shorten::Endpoint { port, .. } => Some(port),
        };
        if let Some(start) = tail_start {
            let tail = &text[start..];
            let tail_count = tail.chars().count();
            if tail_count < width {
                out.extend(text.chars().take(width - 1 - tail_count));
                out.push('…');
                out.push_str(tail);
                return;
            }
            if let Shorten::Endpoint { port, service } = shorten {
                // No room for the host: `…:port(serv…`, or at least `…:port`.
                let port_count = text[port..service].chars().count();
                let room = width - 1;
                if room >= port_count + 3 {
                    out.push('…');
                    out.extend(tail.chars().take(room - 1));
                    out.push('…');
                    return;
                }
                if room >= port_count {
                    out.push('…');
                    out.push_str(&text[port..service]);
                    out.extend(std::iter::repeat_n(' ', room - port_count));
                    return;
                }
            }
        }
        out.extend(text.chars().take(width - 1));
        out.push('…');
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

fn titles(app: &App) -> [String; COLUMNS] {
    Column::ALL.map(|column| {
        if column == app.table.sort.column {
            format!("{}{}", column.title(), arrow(app.table.sort.reverse))
        } else {
            column.title().to_string()
        }
    })
}

fn titles_line(titles: &[String; COLUMNS], widths: &[(usize, Align); COLUMNS]) -> String {
    let mut text = String::from("  ");
    for (index, (title, &(width, align))) in titles.iter().zip(widths).enumerate() {
        if width == 0 {
            continue;
        }
        if index > 0 {
            text.push(' ');
        }
        push_cell(&mut text, title, width, align, Shorten::End);
    }
    text
}

fn row_text(mark: Mark, cells: &RowCells, widths: &[(usize, Align); COLUMNS]) -> String {
    let mut text = String::with_capacity(160);
    text.push(mark.symbol());
    text.push(' ');
    for (index, (cell, &(width, align))) in cells.texts.iter().zip(widths).enumerate() {
        if width == 0 {
            continue;
        }
        if index > 0 {
            text.push(' ');
        }
        push_cell(&mut text, cell, width, align, cells.shorten[index]);
    }
    text
}

fn group_text(group: &Group) -> String {
    let name = match (group.name.as_str(), group.pid) {
        ("", None) => "(no known owner)",
        ("", Some(_)) => "?",
        (name, _) => name,
    };
    let mut text = format!(
        "  {} {name}  {} socket{}",
        if group.expanded { "▾" } else { "▸" },
        group.sockets,
        if group.sockets == 1 { "" } else { "s" }
    );
    if let Some(pid) = group.pid {
        text.push_str(&format!("  pid {pid}"));
    }
    text.push_str(&format!(
        "  Rx {}  Tx {}",
        optional_rate(group.rx_rate),
        optional_rate(group.tx_rate)
    ));
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

/// A table line in view: a socket row cut into cells (they size the columns), or a group.
enum InView<'a> {
    Socket(Mark, Box<RowCells<'a>>),
    Group(u32),
}

fn render_table(app: &App, frame: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let rows = usize::from(area.height - 1);
    // The window always holds the selection, even before the app has heard the new size.
    let mut start = app.offset.min(app.selected);
    if rows > 0 && app.selected >= start + rows {
        start = app.selected + 1 - rows;
    }
    let end = app.table.lines.len().min(start.saturating_add(rows));
    let in_view: Vec<(usize, InView)> = (start..end.max(start))
        .map(|position| match app.table.lines[position] {
            TableLine::Socket(row) => {
                let row = &app.table.rows[row as usize];
                (position, InView::Socket(row.mark, Box::new(row_cells(row))))
            }
            TableLine::Group(group) => (position, InView::Group(group)),
        })
        .collect();
    let titles = titles(app);
    let socket_cells: Vec<&RowCells> = in_view
        .iter()
        .filter_map(|(_, line)| match line {
            InView::Socket(_, cells) => Some(&**cells),
            InView::Group(_) => None,
        })
        .collect();
    let widths = column_widths(area.width, &titles, &socket_cells);
    let mut lines = vec![Line::styled(
        titles_line(&titles, &widths),
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    )];
    if app.table.lines.is_empty() {
        let why = if app.table.snapshots_seen == 0 {
            "collecting the first snapshot…"
        } else if !app.table.filter.is_empty() {
            "no socket matches the filter"
        } else {
            "no sockets"
        };
        lines.push(Line::styled(
            format!("  {why}"),
            Style::new().add_modifier(Modifier::DIM),
        ));
    }
    for (position, line) in &in_view {
        let (text, style) = match line {
            InView::Socket(mark, cells) => (row_text(*mark, cells, &widths), mark_style(*mark)),
            InView::Group(group) => (
                group_text(&app.table.groups[*group as usize]),
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            ),
        };
        let style = if *position == app.selected {
            style.add_modifier(Modifier::REVERSED)
        } else {
            style
        };
        lines.push(Line::styled(text, style));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The key hints of the footer in the order shown, each with its rank: a narrow footer drops
/// the highest ranks first.
const KEY_HINTS: [(&str, u8); 8] = [
    ("q quit", 0),
    ("? help", 0),
    ("/ filter", 1),
    ("1-9 sort", 4),
    ("g group", 3),
    ("space pause", 5),
    ("Enter details", 2),
    ("k kill", 2),
];

/// The key hints that fit in `width` columns.
fn key_hints(width: usize) -> String {
    for keep in (0..=5).rev() {
        let hints: Vec<&str> = KEY_HINTS
            .iter()
            .filter(|(_, rank)| *rank <= keep)
            .map(|(hint, _)| *hint)
            .collect();
        let text = hints.join(" · ");
        if text.chars().count() <= width || keep == 0 {
            return text;
        }
    }
    String::new()
}

/// `text` in at most `width` characters, its end replaced by `…` when it is longer.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        out.push('…');
    }
    out
}

fn footer_line(app: &App, width: u16) -> Line<'static> {
    let width = usize::from(width);
    if app.typing {
        const TYPING_HINTS: &str = "  Enter keep · Esc clear · Backspace delete";
        let filter = escaped(&app.table.filter);
        let count = filter.chars().count();
        // The end of a long filter, where the cursor is, stays in view.
        let prompt = if count + 2 > width {
            let keep = width.saturating_sub(3);
            format!(
                "/…{}█",
                filter
                    .chars()
                    .skip(count - keep.min(count))
                    .collect::<String>()
            )
        } else {
            format!("/{filter}█")
        };
        let mut spans = vec![Span::styled(
            prompt.clone(),
            Style::new().add_modifier(Modifier::BOLD),
        )];
        if prompt.chars().count() + TYPING_HINTS.chars().count() <= width {
            spans.push(Span::raw(TYPING_HINTS));
        }
        return Line::from(spans);
    }
    match &app.status {
        Some(status) => Line::styled(
            fit(status, width),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        None => Line::styled(key_hints(width), Style::new().add_modifier(Modifier::DIM)),
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

/// The details of `details` as lines at most `width` columns wide (long ones wrapped).
fn details_lines(details: &Details, coverage: OwnerCoverage, width: usize) -> Vec<Line<'static>> {
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
    lines.push(field("Rx/s", optional_rate(row.rx_rate).into_owned()));
    lines.push(field("Tx/s", optional_rate(row.tx_rate).into_owned()));
    lines.push(field(
        "Timer",
        socket
            .timer
            .map_or_else(|| "-".to_string(), |timer| timer.to_string()),
    ));
    if let Some(info) = &socket.tcp_info {
        let mut text = String::new();
        push_tcp_info(&mut text, info);
        lines.push(field("TCP info", text));
    }
    lines.push(field(
        "Owners",
        match details.owners_as_of {
            // Between full scans: a process that began sharing the socket since is not found.
            Some(at) => format!(
                "{} (as of the last full owner scan, {}, or later)",
                details.owners.len(),
                clock(at)
            ),
            None => details.owners.len().to_string(),
        },
    ));
    let gaps = coverage.gaps();
    if details.owners.is_empty() && !gaps.is_empty() {
        lines.push(Line::from(format!("  none visible: {}", gaps.describe())));
    }
    for (pid, process) in &details.owners {
        match process {
            Some(process) => {
                lines.push(Line::from(format!(
                    "  pid {pid}  {}  user {}",
                    escaped_name(&process.name),
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
            // A pid is only known from reading its fds, so one that cannot be described is gone.
            None => lines.push(Line::from(format!("  pid {pid}  exited"))),
        }
    }
    lines
        .into_iter()
        .flat_map(|line| wrap(line, width))
        .collect()
}

/// Columns `c` takes on a terminal.
fn char_width(c: char) -> usize {
    let mut buffer = [0; 4];
    Span::raw(&*c.encode_utf8(&mut buffer)).width()
}

/// Break `line` into lines at most `width` columns wide: after a space where there is one,
/// else mid-word. Styles are kept.
fn wrap(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    let chars: Vec<(char, Style)> = line
        .spans
        .iter()
        .flat_map(|span| span.content.chars().map(move |c| (c, span.style)))
        .collect();
    if width == 0 || chars.is_empty() {
        return vec![line];
    }
    let mut wrapped = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let (mut end, mut used, mut after_space) = (start, 0, None);
        while end < chars.len() {
            let columns = char_width(chars[end].0);
            if used + columns > width && end > start {
                break;
            }
            used += columns;
            end += 1;
            if chars[end - 1].0 == ' ' {
                after_space = Some(end);
            }
        }
        if end < chars.len()
            && let Some(space) = after_space
        {
            end = space;
        }
        let mut spans: Vec<Span<'static>> = Vec::new();
        for &(c, style) in &chars[start..end] {
            match spans.last_mut() {
                Some(span) if span.style == style => span.content.to_mut().push(c),
                _ => spans.push(Span::styled(c.to_string(), style)),
            }
        }
        wrapped.push(Line::from(spans).style(line.style));
        start = end;
    }
    wrapped
}

/// Where the details popup goes in the table `area`, and all its lines, wrapped to fit.
fn details_layout(
    details: &Details,
    coverage: OwnerCoverage,
    area: Rect,
) -> (Rect, Vec<Line<'static>>) {
    let width = area.width.saturating_sub(4).max(60).min(area.width);
    let lines = details_lines(details, coverage, usize::from(width.saturating_sub(2)));
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    (centered(area, width, height), lines)
}

/// How far the details popup can scroll on a `width` x `height` terminal, and how many of its
/// lines show at once (a page).
pub fn details_scroll(
    details: &Details,
    coverage: OwnerCoverage,
    width: u16,
    height: u16,
) -> (usize, usize) {
    let table = areas(Rect::new(0, 0, width, height)).table;
    let (popup, lines) = details_layout(details, coverage, table);
    let visible = usize::from(popup.height.saturating_sub(2));
    (lines.len().saturating_sub(visible), visible)
}

fn render_details(details: &Details, coverage: OwnerCoverage, frame: &mut Frame, area: Rect) {
    let (popup, lines) = details_layout(details, coverage, area);
    let visible = usize::from(popup.height.saturating_sub(2));
    let total = lines.len();
    let first = details.scroll.min(total.saturating_sub(visible));
    let below = total.saturating_sub(first + visible);
    let mut block = Block::bordered().title(" Socket details · Esc closes ");
    // Nothing is cut without saying so: the bottom border tells what is above and below.
    if below > 0 {
        block = block.title_bottom(format!(" ↓ {below} more below · ↑↓ PgUp PgDn End "));
    } else if first > 0 {
        block = block.title_bottom(format!(" ↑ {first} more above · ↑ PgUp Home "));
    }
    let shown: Vec<Line> = lines.into_iter().skip(first).take(visible).collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(shown).block(block), popup);
}

pub const HELP: &[(&str, &str)] = &[
    ("Up/Down, wheel", "move the selection"),
    (
        "PgUp/PgDn, Home/End",
        "move by a page, to the top or bottom",
    ),
    ("1-9", "sort by column 1-9 (Proto … User); again: reverse"),
    ("0, )", "sort by Rx/s, by Tx/s (bytes per second, tcp_info)"),
    ("/", "filter expression or search; Enter keeps, Esc clears"),
    ("g", "group by process; Enter/Right expands, Left collapses"),
    ("Enter", "details of the socket (arrows scroll, Esc closes)"),
    ("space", "pause the view (collection goes on)"),
    ("k", "SIGTERM to an owner you choose (rechecked first)"),
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
        .map(|owner| owner.pid.to_string().len())
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
    for (index, owner) in target.owners.iter().enumerate().skip(first).take(fits) {
        let chosen = index == target.selected;
        let mut text = format!(
            "{} pid {:<pid_width$}  {}",
            if chosen { '>' } else { ' ' },
            owner.pid,
            owner.program
        );
        if owner.started.is_some() {
            text.push_str(&format!(
                "  started {}",
                kill::describe_start(owner.started)
            ));
        }
        if let Some(why) = kill::refusal(owner.pid) {
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
