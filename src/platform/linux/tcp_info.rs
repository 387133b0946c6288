//! `struct tcp_info` (linux/tcp.h) and the congestion algorithm from a sock_diag reply's
//! attributes. The struct grew over kernel versions; a field is read only when the length
//! the kernel sent covers it.

use crate::model::TcpInfo;

/// `enum inet_diag_attr` (linux/inet_diag.h): the attributes asked for and read here.
pub const INET_DIAG_INFO: u16 = 2;
pub const INET_DIAG_CONG: u16 = 4;
/// The request's `idiag_ext` bits that ask for them: bit (attribute - 1).
pub const EXTENSIONS: u8 = (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_CONG - 1));

/// The struct as Linux 2.6.x first shipped it, up to `tcpi_total_retrans`; every kernel
/// sends at least this much.
const BASE_BYTES: usize = 104;
/// `TCP_INFINITE_SSTHRESH`: slow start has not ended yet.
const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// `~0`: no pacing limit (a listener, a socket that never sent).
const UNLIMITED_PACING: u64 = u64::MAX;

/// Byte offsets of the fields read, from the uapi header.
mod offset {
    pub const RETRANSMITS: usize = 2;
    pub const PROBES: usize = 3;
    pub const RTO: usize = 8;
    pub const SND_MSS: usize = 16;
    pub const UNACKED: usize = 24;
    pub const LOST: usize = 32;
    pub const LAST_DATA_SENT: usize = 44;
    pub const LAST_DATA_RECV: usize = 52;
    pub const LAST_ACK_RECV: usize = 56;
    pub const RTT: usize = 68;
    pub const RTTVAR: usize = 72;
    pub const SND_SSTHRESH: usize = 76;
    pub const SND_CWND: usize = 80;
    pub const TOTAL_RETRANS: usize = 100;
    pub const PACING_RATE: usize = 104;
    pub const BYTES_ACKED: usize = 120;
    pub const BYTES_RECEIVED: usize = 128;
    pub const SEGS_OUT: usize = 136;
    pub const SEGS_IN: usize = 140;
    pub const NOTSENT_BYTES: usize = 144;
    pub const MIN_RTT: usize = 148;
    pub const DELIVERY_RATE: usize = 160;
    pub const BUSY_TIME: usize = 168;
    pub const RWND_LIMITED: usize = 176;
    pub const SNDBUF_LIMITED: usize = 184;
    pub const BYTES_SENT: usize = 200;
    pub const BYTES_RETRANS: usize = 208;
}

/// The tcp_info and congestion algorithm among the attributes that follow `inet_diag_msg`;
/// `None` when there is no tcp_info (TIME_WAIT and request sockets have none) or it is short.
pub fn from_attributes(attributes: &[u8]) -> Option<Box<TcpInfo>> {
    let mut info = None;
    let mut congestion = None;
    for (kind, payload) in self::attributes(attributes) {
        match kind {
            INET_DIAG_INFO => info = parse(payload),
            INET_DIAG_CONG => congestion = algorithm(payload),
            _ => {}
        }
    }
    let mut info = info?;
    info.congestion = congestion;
    Some(Box::new(info))
}

/// The counts netstat -o shows, `tcpi_retransmits` and `tcpi_probes` (icsk_retransmits and
/// icsk_probes_out, /proc/net/tcp's retrnsmt and timeout columns); `None` without tcp_info.
pub fn timer_counts(attributes: &[u8]) -> Option<(u8, u8)> {
    let (_, info) = self::attributes(attributes).find(|&(kind, _)| kind == INET_DIAG_INFO)?;
    if info.len() < BASE_BYTES {
        return None;
    }
    Some((info[offset::RETRANSMITS], info[offset::PROBES]))
}

/// The (type, payload) of each `struct rtattr` in `bytes`, up to the first that does not fit.
pub fn attributes(mut bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let header = bytes.get(..4)?;
        let length = usize::from(u16::from_ne_bytes([header[0], header[1]]));
        let kind = u16::from_ne_bytes([header[2], header[3]]);
        let payload = bytes.get(4..length)?;
        bytes = bytes.get((length + 3) & !3..).unwrap_or_default();
        Some((kind, payload))
    })
}

/// A NUL-terminated name; anything but a short printable ASCII word is not a name.
fn algorithm(payload: &[u8]) -> Option<String> {
    let name = payload.split(|&b| b == 0).next()?;
    let printable = !name.is_empty() && name.iter().all(|b| b.is_ascii_graphic());
    printable.then(|| String::from_utf8_lossy(name).into_owned())
}

/// One `struct tcp_info` of `bytes.len()` bytes, as this kernel defines it.
fn parse(bytes: &[u8]) -> Option<TcpInfo> {
    if bytes.len() < BASE_BYTES {
        return None;
    }
    let u32_at = |at: usize| -> Option<u32> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| -> Option<u64> {
        let b = bytes.get(at..at + 8)?;
        Some(u64::from_ne_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    };
    let base = |at: usize| u32_at(at).unwrap_or_default();
    use offset::*;
    let ssthresh = base(SND_SSTHRESH);
    Some(TcpInfo {
        congestion: None,
        rto_us: base(RTO),
        rtt_us: base(RTT),
        rttvar_us: base(RTTVAR),
        mss: base(SND_MSS),
        cwnd: base(SND_CWND),
        ssthresh: (ssthresh < INFINITE_SSTHRESH).then_some(ssthresh),
        retransmits: bytes[RETRANSMITS],
        total_retrans: base(TOTAL_RETRANS),
        lost: base(LOST),
        unacked: base(UNACKED),
        last_send_ms: base(LAST_DATA_SENT),
        last_recv_ms: base(LAST_DATA_RECV),
        last_ack_ms: base(LAST_ACK_RECV),
        pacing_rate: u64_at(PACING_RATE).filter(|&rate| rate != UNLIMITED_PACING),
        bytes_acked: u64_at(BYTES_ACKED),
        bytes_received: u64_at(BYTES_RECEIVED),
        segs_out: u32_at(SEGS_OUT),
        segs_in: u32_at(SEGS_IN),
        notsent: u32_at(NOTSENT_BYTES),
        min_rtt_us: u32_at(MIN_RTT),
        delivery_rate: u64_at(DELIVERY_RATE),
        busy_us: u64_at(BUSY_TIME),
        rwnd_limited_us: u64_at(RWND_LIMITED),
        sndbuf_limited_us: u64_at(SNDBUF_LIMITED),
        bytes_sent: u64_at(BYTES_SENT),
        bytes_retrans: u64_at(BYTES_RETRANS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tcp_info of `length` bytes whose every field holds a value derived from its offset,
    /// so a field read from the wrong place shows.
    fn crafted(length: usize) -> Vec<u8> {
        let mut bytes = vec![0; length];
        let mut put32 = |at: usize, value: u32| {
            if at + 4 <= length {
                bytes[at..at + 4].copy_from_slice(&value.to_ne_bytes());
            }
        };
        for at in (8..BASE_BYTES).step_by(4) {
            put32(at, 1000 + at as u32);
        }
        for at in (BASE_BYTES..length).step_by(4) {
            put32(at, 0);
        }
        for at in [offset::SEGS_OUT, offset::SEGS_IN, offset::NOTSENT_BYTES] {
            put32(at, 2000 + at as u32);
        }
        put32(offset::MIN_RTT, 2000 + offset::MIN_RTT as u32);
        for at in [
            offset::PACING_RATE,
            offset::BYTES_ACKED,
            offset::BYTES_RECEIVED,
            offset::DELIVERY_RATE,
            offset::BUSY_TIME,
            offset::RWND_LIMITED,
            offset::SNDBUF_LIMITED,
            offset::BYTES_SENT,
            offset::BYTES_RETRANS,
        ] {
            if at + 8 <= length {
                let value = (1u64 << 40) + at as u64;
                bytes[at..at + 8].copy_from_slice(&value.to_ne_bytes());
            }
        }
        bytes[offset::RETRANSMITS] = 3;
        bytes
    }

    fn attribute(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(((payload.len() + 4) as u16).to_ne_bytes());
        out.extend(kind.to_ne_bytes());
        out.extend(payload);
        out.resize((out.len() + 3) & !3, 0);
        out
    }

    fn with_cong(info_length: usize) -> Vec<u8> {
        let mut bytes = attribute(INET_DIAG_CONG, b"cubic\0");
        // An attribute this code does not read (INET_DIAG_SHUTDOWN) is stepped over.
        bytes.extend(attribute(8, &[0]));
        bytes.extend(attribute(INET_DIAG_INFO, &crafted(info_length)));
        bytes
    }

    #[test]
    fn the_struct_of_an_old_kernel_has_the_base_fields_only() {
        let info = from_attributes(&with_cong(BASE_BYTES)).unwrap();
        assert_eq!(info.congestion.as_deref(), Some("cubic"));
        assert_eq!(info.rto_us, 1008);
        assert_eq!(info.mss, 1016);
        assert_eq!(info.unacked, 1024);
        assert_eq!(info.lost, 1032);
        assert_eq!(info.last_send_ms, 1044);
        assert_eq!(info.last_recv_ms, 1052);
        assert_eq!(info.last_ack_ms, 1056);
        assert_eq!(info.rtt_us, 1068);
        assert_eq!(info.rttvar_us, 1072);
        assert_eq!(info.ssthresh, Some(1076));
        assert_eq!(info.cwnd, 1080);
        assert_eq!(info.total_retrans, 1100);
        assert_eq!(info.retransmits, 3);
        assert_eq!(info.pacing_rate, None);
        assert_eq!(info.bytes_acked, None);
        assert_eq!(info.bytes_sent, None);
        assert_eq!(info.min_rtt_us, None);
    }

    #[test]
    fn each_kernel_length_gives_the_fields_it_covers() {
        // Structs ending after segs_in (4.2), delivery_rate (4.9), sndbuf_limited (4.10),
        // bytes_retrans (4.19), and later kernels' longer ones.
        let at = |offset: usize| (1u64 << 40) + offset as u64;
        let info = from_attributes(&with_cong(144)).unwrap();
        assert_eq!(info.pacing_rate, Some(at(offset::PACING_RATE)));
        assert_eq!(info.bytes_acked, Some(at(offset::BYTES_ACKED)));
        assert_eq!(info.bytes_received, Some(at(offset::BYTES_RECEIVED)));
        assert_eq!(info.segs_out, Some(2136));
        assert_eq!(info.segs_in, Some(2140));
        assert_eq!(
            (info.notsent, info.min_rtt_us, info.delivery_rate),
            (None, None, None)
        );

        let info = from_attributes(&with_cong(168)).unwrap();
        assert_eq!(info.notsent, Some(2144));
        assert_eq!(info.min_rtt_us, Some(2148));
        assert_eq!(info.delivery_rate, Some(at(offset::DELIVERY_RATE)));
        assert_eq!((info.busy_us, info.bytes_sent), (None, None));

        let info = from_attributes(&with_cong(192)).unwrap();
        assert_eq!(info.busy_us, Some(at(offset::BUSY_TIME)));
        assert_eq!(info.rwnd_limited_us, Some(at(offset::RWND_LIMITED)));
        assert_eq!(info.sndbuf_limited_us, Some(at(offset::SNDBUF_LIMITED)));
        assert_eq!(info.bytes_sent, None);

        for length in [216, 232, 248, 300] {
            let info = from_attributes(&with_cong(length)).unwrap();
            assert_eq!(info.bytes_sent, Some(at(offset::BYTES_SENT)), "{length}");
            assert_eq!(
                info.bytes_retrans,
                Some(at(offset::BYTES_RETRANS)),
                "{length}"
            );
            assert_eq!(info.cwnd, 1080, "{length}");
        }
    }

    #[test]
    fn short_or_broken_attributes_give_nothing_rather_than_garbage() {
        assert_eq!(from_attributes(&[]), None);
        assert_eq!(from_attributes(&with_cong(BASE_BYTES - 4)), None);
        // The congestion algorithm alone is no tcp_info.
        assert_eq!(from_attributes(&attribute(INET_DIAG_CONG, b"bbr\0")), None);
        // A length past the end, a length shorter than the header: the walk stops.
        let mut bytes = with_cong(BASE_BYTES);
        bytes[0..2].copy_from_slice(&4000u16.to_ne_bytes());
        assert_eq!(from_attributes(&bytes), None);
        bytes[0..2].copy_from_slice(&2u16.to_ne_bytes());
        assert_eq!(from_attributes(&bytes), None);
        for cut in 0..with_cong(248).len() {
            let _ = from_attributes(&with_cong(248)[..cut]);
        }
    }

    #[test]
    fn infinite_ssthresh_unlimited_pacing_and_an_unprintable_algorithm_are_none() {
        let mut info = crafted(BASE_BYTES);
        info[offset::SND_SSTHRESH..offset::SND_SSTHRESH + 4]
            .copy_from_slice(&INFINITE_SSTHRESH.to_ne_bytes());
        let mut bytes = attribute(INET_DIAG_CONG, b"\x1b[2J\0");
        bytes.extend(attribute(INET_DIAG_INFO, &info));
        let info = from_attributes(&bytes).unwrap();
        assert_eq!(info.ssthresh, None);
        assert_eq!(info.congestion, None);
        let mut info = crafted(144);
        info[offset::PACING_RATE..offset::PACING_RATE + 8].copy_from_slice(&[0xff; 8]);
        let info = from_attributes(&attribute(INET_DIAG_INFO, &info)).unwrap();
        assert_eq!(info.pacing_rate, None);
    }
}
