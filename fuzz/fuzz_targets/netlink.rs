//! The netlink parsers: sock_diag dump replies (with tcp_info), unix_diag replies, inet_diag
//! attributes, and the destroy notices of `--watch`; each reads the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rnetstat::fuzzing::sock_diag_batch(data);
    rnetstat::fuzzing::unix_diag_batch(data);
    rnetstat::fuzzing::tcp_info_attributes(data);
    rnetstat::fuzzing::destroy_notices(data);
});
