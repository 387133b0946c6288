//! The /proc parsers: /proc/net/{tcp,udp}[6], snmp/netstat/sockstat, /proc/PID/stat and
//! /proc/net/unix; each reads the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rnetstat::fuzzing::proc_pid_stat(data);
    rnetstat::fuzzing::proc_net_unix(data);
    if let Ok(text) = std::str::from_utf8(data) {
        rnetstat::fuzzing::proc_net_table(text);
        rnetstat::fuzzing::snmp_counters(text);
    }
});
