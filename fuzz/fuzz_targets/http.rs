//! The request parser of `--serve`: whatever a client sends, a request, "incomplete" or a 400.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rnetstat::fuzzing::http_request(data);
});
