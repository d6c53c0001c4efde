//! The `.npy` reader on arbitrary bytes: an `Ok` or a typed error, never a panic,
//! and never an allocation larger than the input implies.
#![no_main]

use std::path::Path;

use diffusion_lowdim::io::npy::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.npy");
    if let Ok(a) = decode(path, data) {
        // What a decoded array is used for: checks, layouts, and a lossless re-encoding.
        let _ = a.ensure_finite(path);
        let _ = a.to_batch(path, "x", None);
        let _ = a.to_matrix(path, "basis", "(d, r)");
        let _ = a.to_vector(path, "v");
        let b = decode(path, &encode(&a)).expect("an encoded array decodes");
        assert_eq!(a.shape(), b.shape());
        assert!(a.data().iter().zip(b.data()).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
});
