//! Drawing: `render(&App, &mut Frame)` reads the state and never changes it. Only the rows
//! in view are turned into text, so 100,000 sockets draw as fast as 40.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::App;
use super::close::{CloseTarget, endpoint};
use super::details::{self, Details};
use super::kill::KillTarget;
use super::layout::{
    Align, CHANGED_COLOUR, COLUMNS, GONE_COLOUR, NEW_COLOUR, RowCells, Shorten, areas, centered,
    column_widths, optional_rate, push_cell, row_cells,
};
use super::rows::{Column, Grouping, Mark};
use super::table::{Group, Line as TableLine};
use crate::filter::Listening;
use crate::format::{clock, escaped};
use crate::model::{OwnerCoverage, SocketState};

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
        render_details(details, frame, areas.table);
    }
    if app.help {
        render_help(frame, area);
    }
    if let Some(target) = &app.confirm {
        render_confirm(target, frame, area);
    }
    if let Some(target) = &app.close {
        render_close(target, frame, area);
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
    title.push(match app.slowed {
        None => Span::raw(format!("every {}s", app.interval.as_secs_f64())),
        // Never a stale row without saying so: the rows are this old at most.
        Some(every) => Span::styled(
            format!(
                "every {:.1}s (asked {}s)",
                every.as_secs_f64(),
                app.interval.as_secs_f64()
            ),
            Style::new().fg(Color::Yellow),
        ),
    });
    if app.paused {
        title.push(separator());
        title.push(Span::styled(
            "PAUSED",
            bold.fg(Color::Black).bg(Color::Yellow),
        ));
    }

    let counts = &app.table.counts;
    let total = counts.tcp + counts.udp;
    // Whenever the filter or a view key hides anything, the count says so.
    let shown = app.table.shown();
    let shown = if shown < total {
        format!("{shown} shown of ")
    } else {
        String::new()
    };
    let mut totals = format!(
        "{shown}{total} socket{} │ tcp {} │ udp {} │ Rx {} Tx {}",
        if total == 1 { "" } else { "s" },
        counts.tcp,
        counts.udp,
        optional_rate(counts.rx_rate),
        optional_rate(counts.tx_rate),
    );
    // The states that fit whole, then `…` for the rest (never `ESTABLISHED 6, L`).
    let states: Vec<String> = (SocketState::ALL.iter().zip(&counts.tcp_states))
        .filter(|(_, count)| **count > 0)
        .map(|(state, count)| format!("{} {count}", state.as_str()))
        .collect();
    for (index, state) in states.iter().enumerate() {
        let lead = if index == 0 { " │ " } else { ", " };
        let last = index + 1 == states.len();
        let need = lead.chars().count() + state.chars().count() + if last { 0 } else { 3 };
        if totals.chars().count() + need > width {
            if index > 0 {
                totals.push_str(", …");
            }
            break;
        }
        totals.push_str(lead);
        totals.push_str(state);
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
    if let Some(words) = app.table.hidden.words() {
        settings.push(Span::styled(words, bold));
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
    if let Some(words) = app.table.grouping.words() {
        settings.push(separator());
        settings.push(Span::raw(words));
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

fn group_text(group: &Group, grouping: Grouping) -> String {
    let name = match (group.name.as_str(), group.pid) {
        ("", None) => grouping.none_title(),
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
    let names = app.table.endpoint_names();
    let in_view: Vec<(usize, InView)> = (start..end.max(start))
        .map(|position| match app.table.lines[position] {
            TableLine::Socket(row) => {
                let row = &app.table.rows[row as usize];
                (
                    position,
                    InView::Socket(row.mark, Box::new(row_cells(row, &names))),
                )
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
                group_text(&app.table.groups[*group as usize], app.table.grouping),
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
const KEY_HINTS: [(&str, u8); 9] = [
    ("q quit", 0),
    ("? help", 0),
    ("/ filter", 1),
    ("1-9 sort", 4),
    ("g group", 3),
    ("space pause", 5),
    ("Enter details", 2),
    ("k kill", 2),
    ("x close", 5),
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

fn render_details(details: &Details, frame: &mut Frame, area: Rect) {
    let (popup, lines) = details::popup(details, area);
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
    ("g", "group: process, container, unit, off; Enter/Left"),
    ("Enter", "details of the socket (arrows scroll, Esc closes)"),
    ("space", "pause the view (collection goes on)"),
    ("k", "SIGTERM to an owner you choose (rechecked first)"),
    ("n", "numbers or names (hosts, services, users)"),
    ("l, t, u", "hide or show listeners, TCP, UDP"),
    ("f", "family: both, IPv4 only, IPv6 only"),
    ("x", "close the TCP connection, as ss -K (rechecked first)"),
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
        if let Some(started) = owner.started_text() {
            text.push_str(&format!("  started {started}"));
        }
        if let Some(why) = owner.refused {
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

fn render_close(target: &CloseTarget, frame: &mut Frame, area: Rect) {
    let connection = &target.connection;
    let mut lines = vec![
        Line::from("Close this TCP connection? The kernel resets it (ss -K)."),
        Line::from(format!("  local   {}", endpoint(connection.local))),
        Line::from(format!("  remote  {}", endpoint(connection.remote))),
    ];
    if target.owners.is_empty() {
        lines.push(Line::from("  owner   unknown"));
    }
    // The question, both ends, the key line, the borders and a "more" line fit first.
    let fits = usize::from(area.height.saturating_sub(7)).max(1);
    for (index, owner) in target.owners.iter().enumerate().take(fits) {
        let label = if index == 0 { "owner" } else { "" };
        lines.push(Line::from(format!("  {label:<7} {owner}")));
    }
    if target.owners.len() > fits {
        lines.push(Line::from(format!(
            "          … {} more",
            target.owners.len() - fits
        )));
    }
    lines.push(Line::styled(
        "y: yes · any other key: no",
        Style::new().add_modifier(Modifier::BOLD),
    ));
    let popup = centered(area, 64, lines.len() as u16 + 2);
    draw_wrapped_popup(frame, popup, lines, " Close connection ");
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
