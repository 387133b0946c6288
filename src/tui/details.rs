//! The details popup: the lines that describe one socket and its owners, and how far they
//! scroll on a screen of a given size.

use std::time::SystemTime;

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::layout::{GONE_COLOUR, areas, centered, optional_rate};
use super::rows::{EndpointNames, Row};
use crate::format::{clock, escaped, escaped_name, push_tcp_info};
use crate::model::{Cgroup, OwnerCoverage, Process};

/// The socket in the details pane, followed across refreshes by row.
#[derive(Debug, Clone)]
pub struct Details {
    /// Where the socket is in the table's rows; `None` once it has left the table.
    pub row: Option<usize>,
    /// The socket as last seen.
    pub last: Row,
    /// Every owner pid with what is known of it (`None`: it exited before it was described).
    pub owners: Vec<(u32, Option<Process>)>,
    /// The cgroup the socket was made in, when known.
    pub cgroup: Option<Cgroup>,
    pub gone: bool,
    /// The first line of the popup in view (it scrolls when taller than the screen).
    pub scroll: usize,
    /// See [`Snapshot::owners_as_of`]: `owners` may miss a process that shares it since.
    pub owners_as_of: Option<SystemTime>,
    /// What the popup says, built when any of the above changes, never while drawing;
    /// wrapped to the popup's width when drawn.
    pub lines: Vec<Line<'static>>,
}

impl Details {
    /// Build [`Details::lines`] again after the socket, its owners or `coverage` changed.
    pub fn describe(&mut self, coverage: OwnerCoverage, names: &EndpointNames) {
        self.lines = content(self, coverage, names);
    }
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

/// What the popup says of `details`, one line per field or owner, not yet wrapped.
fn content(
    details: &Details,
    coverage: OwnerCoverage,
    names: &EndpointNames,
) -> Vec<Line<'static>> {
    let row = &details.last;
    let (local, remote) = row.endpoints(names);
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
    lines.push(field("Local", local));
    lines.push(field("Foreign", remote));
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
    lines.push(field("Runs as", row.context.to_string()));
    let socket_cgroup = details.cgroup.as_ref().map(|c| c.path.as_str());
    lines.push(field(
        "Cgroup",
        socket_cgroup.map_or_else(|| "-".to_string(), escaped),
    ));
    // The kernel's traps: an accepted socket carries its listener's cgroup, a moved process
    // keeps its old sockets' one. Where the owner is now, when that is elsewhere.
    for (pid, process) in &details.owners {
        let owner_cgroup = process.as_ref().and_then(|p| p.cgroup.as_deref());
        if let (Some(socket_cgroup), Some(owner)) = (socket_cgroup, owner_cgroup)
            && owner.path != socket_cgroup
        {
            lines.push(Line::from(format!(
                "  made in the cgroup above; owner pid {pid} is now in {}",
                escaped(&owner.path)
            )));
        }
    }
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
    } else if row.socket.bytes.is_some() {
        // Kept whole only for rows in view: a row scrolled to since gets it at the next refresh.
        lines.push(field("TCP info", "at the next refresh".to_string()));
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
pub fn popup(details: &Details, area: Rect) -> (Rect, Vec<Line<'static>>) {
    let width = area.width.saturating_sub(4).max(60).min(area.width);
    let wrap_at = usize::from(width.saturating_sub(2));
    let lines: Vec<Line<'static>> = details
        .lines
        .iter()
        .flat_map(|line| wrap(line.clone(), wrap_at))
        .collect();
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    (centered(area, width, height), lines)
}

/// How far the details popup can scroll on a `width` x `height` terminal, and how many of its
/// lines show at once (a page).
pub fn scroll(details: &Details, width: u16, height: u16) -> (usize, usize) {
    let table = areas(Rect::new(0, 0, width, height)).table;
    let (popup, lines) = popup(details, table);
    let visible = usize::from(popup.height.saturating_sub(2));
    (lines.len().saturating_sub(visible), visible)
}
