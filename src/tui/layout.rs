//! Where things go on the dashboard's screen: the header, table and footer areas, how many rows
//! a page holds, popups centred, and each column's width fitted to the rows in view. Pure
//! functions of sizes and texts: the app pages with them, the view draws with them.

use std::borrow::Cow;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;

use super::rows::{Column, EndpointNames, Row};
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

pub fn row_cells<'a>(row: &'a Row, names: &EndpointNames) -> RowCells<'a> {
    let socket = &row.socket;
    let (local, remote) = row.endpoints(names);
    let optional = |value: Option<u32>| value.map_or(Cow::Borrowed("-"), |v| v.to_string().into());
    let program: Cow<str> = match (&*row.program, socket.pids.len()) {
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
            Shorten::endpoint(&local),
            Shorten::endpoint(&remote),
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
            local.into(),
            remote.into(),
            socket.state.as_str().into(),
            optional(socket.recv_q),
            optional(socket.send_q),
            optional(socket.pids.first().copied()),
            program,
            (*row.user).into(),
            (*row.netns).into(),
            (*row.context).into(),
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

/// The longest IPv4 endpoint, `255.255.255.255:65535`: an address and port this long stays
/// whole before a rate or an all-zero queue column is kept; a longer one (IPv6, a host name)
/// keeps this many characters with its port.
const ADDRESS_KEEPS: usize = 21;

const LOCAL: usize = 1;
const FOREIGN: usize = 2;
const RECV_Q: usize = 4;
const SEND_Q: usize = 5;
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
/// does not fit, a rate column with nothing to show goes first, then columns shrink by what a
/// person reads least, in rounds (each only as far as needed):
/// 1. the container, namespace and user columns go, the program keeps ten characters
///    (`python3 +1`);
/// 2. queue columns with nothing to show and the rate columns go (whole: a cut number
///    misleads), then the services, so that every address keeps its host and port whole up to
///    21 characters (any IPv4 endpoint);
/// 3. the hosts give way to `…:port` (a queue with something in it stays: a stuck connection
///    is worth its columns);
/// 4. one character each.
pub fn column_widths(
    width: u16,
    titles: &[String; COLUMNS],
    rows: &[&RowCells],
) -> [(usize, Align); COLUMNS] {
    let mut widths: [usize; COLUMNS] = std::array::from_fn(|i| titles[i].chars().count());
    let mut keep_address = [0usize; COLUMNS];
    let mut keep_port = [0usize; COLUMNS];
    // What nothing in view runs as takes no room: the column shows when a row has a context.
    // The same for namespaces: shown with --all-netns.
    for index in [NETNS, CONTAINER] {
        if rows.iter().all(|cells| cells.texts[index] == "-") {
            widths[index] = 0;
        }
    }
    let mut program_keeps = PROGRAM_KEEPS;
    for cells in rows {
        for (index, text) in cells.texts.iter().enumerate() {
            let count = text.chars().count();
            if widths[index] == 0 && matches!(index, NETNS | CONTAINER) {
                continue;
            }
            widths[index] = widths[index].max(count);
            let chars = |from: usize, to: usize| text[from..to].chars().count();
            match cells.shorten[index] {
                Shorten::End => {}
                // ` +N` and one character before it.
                Shorten::Tail(tail) => {
                    program_keeps = program_keeps.max(chars(tail, text.len()) + 2)
                }
                Shorten::Endpoint { port, service } => {
                    let port_keeps = chars(port, service) + 1;
                    let whole = chars(0, service);
                    keep_address[index] =
                        keep_address[index].max(whole.min(ADDRESS_KEEPS.max(port_keeps)));
                    keep_port[index] = keep_port[index].max(port_keeps.min(count));
                }
            }
        }
    }
    let nothing_to_show = |index: usize, nothing: &[&str]| {
        rows.iter()
            .all(|cells| nothing.contains(&cells.texts[index].as_ref()))
    };
    // A rate column with nothing to show (all unknown or zero) gives way before anything else.
    let available = usize::from(width);
    for index in [TX_RATE, RX_RATE] {
        if nothing_to_show(index, &["-", "0.0 B/s"]) && row_width(&widths) > available {
            widths[index] = 0;
        }
    }
    let program_keeps = program_keeps.min(widths[PROGRAM]);
    let full = widths;
    let mut round_one = widths;
    for index in [USER, NETNS, CONTAINER] {
        round_one[index] = 0;
    }
    round_one[PROGRAM] = program_keeps;
    let mut round_two = round_one;
    round_two[LOCAL] = keep_address[LOCAL];
    round_two[FOREIGN] = keep_address[FOREIGN];
    round_two[RX_RATE] = 0;
    round_two[TX_RATE] = 0;
    for index in [RECV_Q, SEND_Q] {
        if nothing_to_show(index, &["-", "0"]) {
            round_two[index] = 0;
        }
    }
    let mut round_three = round_two;
    round_three[LOCAL] = keep_port[LOCAL];
    round_three[FOREIGN] = keep_port[FOREIGN];
    let mut round_four = round_three.map(|w| w.min(1));
    round_four[RECV_Q] = round_three[RECV_Q];
    round_four[SEND_Q] = round_three[SEND_Q];
    for floor in [round_one, round_two, round_three, round_four] {
        shrink(&mut widths, &floor, available);
    }
    grow_back(&mut widths, &full, available);
    std::array::from_fn(|i| (widths[i], ALIGN[i]))
}

/// A later round may free more than it needed (a queue hidden whole): the room left goes back
/// to the addresses (the more cut first), then the program, then to hidden number columns that
/// fit whole again.
fn grow_back(widths: &mut [usize; COLUMNS], full: &[usize; COLUMNS], available: usize) {
    let spare = |widths: &[usize; COLUMNS]| available.saturating_sub(row_width(widths));
    loop {
        let missing = |i: usize| full[i] - widths[i];
        let index = if missing(LOCAL) >= missing(FOREIGN) {
            LOCAL
        } else {
            FOREIGN
        };
        if missing(index) == 0 || spare(widths) == 0 || widths[index] == 0 {
            break;
        }
        widths[index] += 1;
    }
    let room = spare(widths);
    widths[PROGRAM] += room.min(full[PROGRAM] - widths[PROGRAM]);
    for index in [RECV_Q, SEND_Q, RX_RATE, TX_RATE] {
        if widths[index] == 0 && full[index] > 0 && spare(widths) > full[index] {
            widths[index] = full[index];
        }
    }
}

/// The characters a row takes: marker, cells, and a space between shown (non-empty) columns.
fn row_width(widths: &[usize; COLUMNS]) -> usize {
    let shown = widths.iter().filter(|&&w| w > 0).count();
    2 + widths.iter().sum::<usize>() + shown.saturating_sub(1)
}

/// Narrow the container, namespace, user, rates, queues, program, then the addresses (the wider first) towards `floor` until the row
/// fits in `available`; a column narrowed to 0 is hidden.
fn shrink(widths: &mut [usize; COLUMNS], floor: &[usize; COLUMNS], available: usize) {
    let over = |widths: &[usize; COLUMNS]| row_width(widths).saturating_sub(available);
    for index in [
        CONTAINER, NETNS, USER, TX_RATE, RX_RATE, SEND_Q, RECV_Q, PROGRAM,
    ] {
        let slack = widths[index].saturating_sub(floor[index]);
        let over = over(widths);
        // A cut number would mislead: it is whole or hidden.
        let all_or_nothing = matches!(index, RX_RATE | TX_RATE | RECV_Q | SEND_Q) && over > 0;
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
        if let Shorten::Endpoint { service, .. } = shorten {
            // Room for the host and port whole: the service gives way (`127.0.0.1:8080(ht…`).
            let address_count = text[..service].chars().count();
            if address_count <= width {
                out.push_str(&text[..service]);
                let room = width - address_count;
                if room >= 3 {
                    out.extend(text[service..].chars().take(room - 1));
                    out.push('…');
                } else {
                    out.extend(std::iter::repeat_n(' ', room));
                }
                return;
            }
        }
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
