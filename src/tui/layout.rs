//! Where things go on the dashboard's screen: the header, table and footer areas, how many rows
//! a page holds, popups centred, and each column's width fitted to the rows in view. Pure
//! functions of sizes and texts: the app pages with them, the view draws with them.

use std::borrow::Cow;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;

use super::rows::{Column, Row};
use crate::format::{endpoint_tail_start, rate};

/// The highlights of new, gone and changed rows (the marker column says the same in text).
pub const NEW_COLOUR: Color = Color::Green;
pub const GONE_COLOUR: Color = Color::Red;
pub const CHANGED_COLOUR: Color = Color::Yellow;

const HEADER_HEIGHT: u16 = 3;
const FOOTER_HEIGHT: u16 = 1;

pub struct Areas {
    pub header: Rect,
    pub table: Rect,
    pub footer: Rect,
}

pub fn areas(area: Rect) -> Areas {
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

/// A `width` x `height` box in the middle of `area`, never larger than it.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// How a cell too wide for its column is shortened; what it names is kept whole, the rest of
/// the head loses its end to `…`.
#[derive(Clone, Copy)]
pub enum Shorten {
    /// Cut the end.
    End,
    /// Keep the text from this byte on (a program's ` +N`).
    Tail(usize),
    /// An endpoint: keep `:port(service)` from `port` on, or at least `:port` up to `service`.
    Endpoint { port: usize, service: usize },
}

impl Shorten {
    pub fn endpoint(text: &str) -> Shorten {
        let port = endpoint_tail_start(text);
        let service = text[port..].find('(').map_or(text.len(), |at| port + at);
        Shorten::Endpoint { port, service }
    }
}

pub const COLUMNS: usize = Column::ALL.len();

/// One socket row as text, cell by cell in `Column::ALL` order.
pub struct RowCells<'a> {
    pub texts: [Cow<'a, str>; COLUMNS],
    pub shorten: [Shorten; COLUMNS],
}

pub fn row_cells(row: &Row) -> RowCells<'_> {
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
            row.netns.as_str().into(),
            row.context.as_str().into(),
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
    Align::Left,
    Align::Left,
    Align::Right,
    Align::Right,
];

/// The fewest characters a program name keeps while the addresses keep their ports (at 80
/// columns `python3 +1` stays whole).
const PROGRAM_KEEPS: usize = 10;

const LOCAL: usize = 1;
const FOREIGN: usize = 2;
const PROGRAM: usize = 7;
const USER: usize = 8;
const NETNS: usize = 9;
const CONTAINER: usize = 10;
const RX_RATE: usize = 11;
const TX_RATE: usize = 12;

pub fn optional_rate(value: Option<f64>) -> Cow<'static, str> {
    value.map_or(Cow::Borrowed("-"), |v| rate(v).into())
}

/// Width and alignment of each column of `Column::ALL` for a terminal `width` wide, from the
/// column titles and the rows in view. Every column is as wide as its widest cell. When that
/// does not fit, a rate column with nothing to show goes first, then columns shrink by
/// priority, in rounds: container, namespace, user, the rates (round two hides them whole,
/// before the addresses lose their services) and program first, then the two addresses (the
/// wider one first). Round one hides the user, keeps ten characters of the program
/// (`python3 +1`) and every address's whole `:port(service)` after one character of its host;
/// round two keeps the ports (services as far as they fit) and the program's ten characters;
/// round three leaves one character.
pub fn column_widths(
    width: u16,
    titles: &[String; COLUMNS],
    rows: &[&RowCells],
) -> [(usize, Align); COLUMNS] {
    let mut widths: [usize; COLUMNS] = std::array::from_fn(|i| titles[i].chars().count());
    let mut keep_service = [0usize; COLUMNS];
    let mut keep_port = [0usize; COLUMNS];
    keep_service[USER] = 0;
    keep_service[PROGRAM] = PROGRAM_KEEPS;
    keep_port[USER] = 0;
    keep_port[PROGRAM] = PROGRAM_KEEPS;
    // What nothing in view runs as takes no room: the column shows when a row has a context.
    // The same for namespaces: shown with --all-netns.
    for index in [NETNS, CONTAINER] {
        if rows.iter().all(|cells| cells.texts[index] == "-") {
            widths[index] = 0;
        }
    }
    for cells in rows {
        for (index, text) in cells.texts.iter().enumerate() {
            let count = text.chars().count();
            if widths[index] == 0 && matches!(index, NETNS | CONTAINER) {
                continue;
            }
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
    // The rates keep their width while services are kept, and go before ports would; a rate
    // column with nothing to show (all unknown or zero) gives way before anything else.
    let available = usize::from(width);
    for index in [TX_RATE, RX_RATE] {
        let says_something = rows
            .iter()
            .any(|cells| !matches!(cells.texts[index].as_ref(), "-" | "0.0 B/s"));
        keep_service[index] = widths[index];
        if !says_something && row_width(&widths) > available {
            widths[index] = 0;
        }
    }
    for floor in [
        keep_service,
        keep_port,
        [0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
    ] {
        shrink(&mut widths, &floor, available);
    }
    std::array::from_fn(|i| (widths[i], ALIGN[i]))
}

/// The characters a row takes: marker, cells, and a space between shown (non-empty) columns.
fn row_width(widths: &[usize; COLUMNS]) -> usize {
    let shown = widths.iter().filter(|&&w| w > 0).count();
    2 + widths.iter().sum::<usize>() + shown.saturating_sub(1)
}

/// Narrow the container, user, rates, program, then the addresses (the wider first) towards `floor` until the row
/// fits in `available`; a column narrowed to 0 is hidden.
fn shrink(widths: &mut [usize; COLUMNS], floor: &[usize; COLUMNS], available: usize) {
    let over = |widths: &[usize; COLUMNS]| row_width(widths).saturating_sub(available);
    for index in [CONTAINER, NETNS, USER, TX_RATE, RX_RATE, PROGRAM] {
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
pub fn push_cell(out: &mut String, text: &str, width: usize, align: Align, shorten: Shorten) {
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
