//! The model-file loader on arbitrary manifest bytes (inline arrays; array paths
//! resolve under a folder that does not exist, so nothing is read from disk).
#![no_main]

use std::path::Path;

use diffusion_lowdim::io::model_file::load_from_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = load_from_bytes(Path::new("/nonexistent-fuzz-folder/model.json"), data);
});
