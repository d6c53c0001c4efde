//! The golden manifest parser and its structural checks on arbitrary bytes.
#![no_main]

use std::path::Path;

use diffusion_lowdim::golden::suite::parse_manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_manifest(Path::new("manifest.json"), data);
});
