//! macOS: sockets found by walking every process's fds with libproc (`proc_pidinfo`,
//! `proc_pidfdinfo`), which names owners, queues and uids at once. Sockets no process holds
//! (TIME_WAIT) are therefore not listed at all, and without root only our own processes'
//! sockets are (docs/architecture.md). Timers, tcp_info and inodes are not given: `None`.

mod convert;

use libproc::libproc::bsd_info::BSDInfo;
use libproc::libproc::file_info::{ListFDs, ProcFDType, pidfdinfo};
use libproc::libproc::net_info::{InSockInfo, SocketFDInfo, SocketInfoKind};
use libproc::libproc::proc_pid::{listpidinfo, pidinfo};
use libproc::processes::{ProcFilter, pids_by_type};

use self::convert::SocketFd;
use super::error::CollectError;
use crate::filter::Query;
use crate::model::{Family, OwnerCoverage, OwnerGaps, Proto, Snapshot};

/// Nothing to keep between snapshots: every snapshot walks every process.
#[derive(Default)]
pub struct Memory {}

impl Memory {
    pub fn once() -> Memory {
        Memory {}
    }
}

/// Room for fds opened between sizing a process's fd table and listing it.
const FD_HEADROOM: usize = 32;

pub fn snapshot(query: &Query, _memory: &mut Memory) -> Result<Snapshot, CollectError> {
    let pids =
        pids_by_type(ProcFilter::All).map_err(|e| CollectError::new("listing processes", e))?;
    let mut gaps = OwnerGaps::default();
    let mut fds = Vec::new();
    // pid 0 is the kernel, which holds no socket fds.
    for pid in pids.into_iter().filter(|&pid| pid != 0) {
        match socket_fds_of(pid, query) {
            Ok(found) => fds.extend(found),
            Err(()) => gaps |= unreadable_reason(pid),
        }
    }
    // Found only through their holders: TIME_WAIT and orphaned TCP sockets are never seen.
    gaps.unheld_unlisted = query.wants_proto(Proto::Tcp);
    let mut sockets = convert::sockets_by_identity(fds, query.owners);
    sockets.retain(|s| query.wants(s));
    // Processes are walked in pid order; print in netstat's order: tcp, tcp6, udp, udp6.
    sockets.sort_by_key(|s| (s.proto, s.family()));
    Ok(Snapshot {
        sockets,
        owners: if query.owners {
            OwnerCoverage::from_gaps(gaps)
        } else {
            OwnerCoverage::NotCollected
        },
        ..Snapshot::default()
    })
}

/// The TCP and UDP socket fds of one process that the query may want; `Err` when the process
/// could not be read (gone, or not ours to inspect). A fd closed meanwhile is skipped.
fn socket_fds_of(owner: u32, query: &Query) -> Result<Vec<SocketFd>, ()> {
    let pid = i32::try_from(owner).map_err(|_| ())?;
    let bsd = pidinfo::<BSDInfo>(pid, 0).map_err(|_| ())?;
    let capacity = usize::try_from(bsd.pbi_nfiles).unwrap_or(0) + FD_HEADROOM;
    // The same permission check passed just above, so a failure here means the process has no
    // open fds or exited meanwhile: no sockets either way.
    let Ok(fd_list) = listpidinfo::<ListFDs>(pid, capacity) else {
        return Ok(Vec::new());
    };
    Ok(fd_list
        .iter()
        .filter(|fd| matches!(ProcFDType::from(fd.proc_fdtype), ProcFDType::Socket))
        .filter_map(|fd| pidfdinfo::<SocketFDInfo>(pid, fd.proc_fd).ok())
        .filter_map(|info| socket_fd(owner, &info))
        .filter(|fd| query.wants_proto(fd.proto) && query.wants_family(fd.family))
        .collect())
}

/// The plain values of one TCP or UDP socket fd; `None` for every other kind of socket.
fn socket_fd(pid: u32, info: &SocketFDInfo) -> Option<SocketFd> {
    let si = &info.psi;
    let family = match si.soi_family {
        libc::AF_INET => Family::Ipv4,
        libc::AF_INET6 => Family::Ipv6,
        _ => return None,
    };
    // SAFETY: soi_kind names the union member the kernel filled; both are plain integers.
    let (proto, inet, tcp_state): (Proto, InSockInfo, Option<i32>) =
        match SocketInfoKind::from(si.soi_kind) {
            SocketInfoKind::Tcp => {
                let tcp = unsafe { si.soi_proto.pri_tcp };
                (Proto::Tcp, tcp.tcpsi_ini, Some(tcp.tcpsi_state))
            }
            SocketInfoKind::In if si.soi_protocol == libc::IPPROTO_UDP => {
                (Proto::Udp, unsafe { si.soi_proto.pri_in }, None)
            }
            _ => return None,
        };
    // SAFETY: both union members are 16 plain bytes; ina_6 reads all of them.
    let (local_addr, remote_addr) = unsafe { (inet.insi_laddr.ina_6, inet.insi_faddr.ina_6) };
    Some(SocketFd {
        pid,
        so: si.soi_so,
        proto,
        family,
        vflag: inet.insi_vflag,
        local_addr: local_addr.s6_addr,
        remote_addr: remote_addr.s6_addr,
        local_port: inet.insi_lport,
        remote_port: inet.insi_fport,
        tcp_state,
        recv_bytes: si.soi_rcv.sbi_cc,
        send_bytes: si.soi_snd.sbi_cc,
        accept_queue: si.soi_qlen,
        backlog: si.soi_qlimit,
        uid: si.soi_stat.vst_uid,
    })
}

/// Why a process's fds could not be read: nothing when it exited meanwhile (normal), else
/// not being root, or a refusal even to root (System Integrity Protection).
fn unreadable_reason(pid: u32) -> OwnerGaps {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return OwnerGaps::default();
    };
    // SAFETY: kill with signal 0 only checks that the process exists; it sends nothing.
    let exists = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return OwnerGaps::default();
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        OwnerGaps {
            refused: true,
            ..OwnerGaps::default()
        }
    } else {
        OwnerGaps {
            not_root: true,
            ..OwnerGaps::default()
        }
    }
}
