//! `--json`: one versioned document (docs/json.md), streamed socket by socket.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

use crate::model::{Proto, Snapshot, Socket};
use crate::services::{PortClass, Services};

/// Bumped on any change that could break a reader; adding a field is not such a change.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    hostname: Option<&'a str>,
    taken_at: Option<String>,
    sockets: Sockets<'a>,
}

struct Sockets<'a> {
    snapshot: &'a Snapshot,
    services: &'a Services,
}

impl Serialize for Sockets<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.snapshot.sockets.len()))?;
        for socket in &self.snapshot.sockets {
            seq.serialize_element(&socket_view(self.snapshot, self.services, socket))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct SocketView<'a> {
    proto: &'static str,
    family: &'static str,
    state: &'static str,
    local: EndpointView<'a>,
    remote: Option<EndpointView<'a>>,
    recv_q: Option<u32>,
    send_q: Option<u32>,
    uid: Option<u32>,
    inode: Option<u64>,
    processes: Owners<'a>,
}

#[derive(Serialize)]
struct EndpointView<'a> {
    #[serde(serialize_with = "serialize_display")]
    host: IpAddr,
    port: u16,
    service: Option<&'a str>,
    port_class: &'static str,
}

#[derive(Serialize)]
struct ProcessView<'a> {
    pid: u32,
    name: &'a str,
    user: Option<&'a str>,
    cmdline: Option<&'a str>,
    argv: Option<&'a [String]>,
}

fn endpoint_view(addr: SocketAddr, proto: Proto, services: &Services) -> EndpointView<'_> {
    EndpointView {
        host: addr.ip(),
        port: addr.port(),
        service: services.name(addr.port(), proto),
        port_class: PortClass::of(addr.port()).as_str(),
    }
}

fn socket_view<'a>(
    snapshot: &'a Snapshot,
    services: &'a Services,
    socket: &'a Socket,
) -> SocketView<'a> {
    SocketView {
        proto: socket.proto.as_str(),
        family: socket.family().as_str(),
        state: socket.state.as_str(),
        local: endpoint_view(socket.local, socket.proto, services),
        remote: socket
            .remote
            .map(|r| endpoint_view(r, socket.proto, services)),
        recv_q: socket.recv_q,
        send_q: socket.send_q,
        uid: socket.uid,
        inode: socket.inode,
        processes: Owners { snapshot, socket },
    }
}

/// The owners of one socket, serialised straight from the snapshot without a Vec per socket.
struct Owners<'a> {
    snapshot: &'a Snapshot,
    socket: &'a Socket,
}

impl Serialize for Owners<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.snapshot.owners_of(self.socket).map(|p| ProcessView {
            pid: p.pid,
            name: &p.name,
            user: p.user.as_deref(),
            cmdline: p.cmdline.as_deref(),
            argv: p.argv.as_deref(),
        }))
    }
}

/// Write an address as a JSON string without building a String first.
fn serialize_display<S: Serializer>(value: &IpAddr, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

pub fn write_json<W: Write>(
    out: &mut W,
    snapshot: &Snapshot,
    services: &Services,
) -> io::Result<()> {
    let document = Document {
        version: SCHEMA_VERSION,
        hostname: snapshot.hostname.as_deref(),
        taken_at: snapshot.taken_at.map(rfc3339),
        sockets: Sockets { snapshot, services },
    };
    serde_json::to_writer(&mut *out, &document).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// `2026-11-21T05:30:00.123Z`: UTC, millisecond precision.
pub fn rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_250)),
            "2000-02-29T00:00:00.250Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_219_199)),
            "2026-11-20T23:59:59.000Z"
        );
    }
}
