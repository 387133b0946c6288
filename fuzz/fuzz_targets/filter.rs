//! The filter language: words -> Filter -> KernelFilter -> INET_DIAG bytecode, with the
//! pushdown's promise (the kernel keeps whatever the filter keeps) checked on sample sockets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        rnetstat::fuzzing::filter(text);
    }
});
