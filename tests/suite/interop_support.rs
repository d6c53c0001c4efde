//! Helpers for the interoperability tests: the binary, temporary directories,
//! and .npy files of any dtype written with npyz.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use npyz::{DType, Order, WriterBuilder};

/// The command-line tool.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_diffusion-lowdim"))
}

/// Runs the tool with `args`.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

/// A fresh temporary directory (removed when dropped).
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Writes an f64 array (C order) as `<f8`.
pub fn write_f64(path: &Path, shape: &[u64], data: &[f64]) {
    write_typed::<f64>(path, "<f8", shape, data, Order::C);
}

/// Writes an f32 array.
pub fn write_f32(path: &Path, shape: &[u64], data: &[f32]) {
    write_typed::<f32>(path, "<f4", shape, data, Order::C);
}

/// Writes an array with an explicit dtype string and order (`data` in the file's order).
pub fn write_typed<T: npyz::Serialize + Copy>(
    path: &Path,
    dtype: &str,
    shape: &[u64],
    data: &[T],
    order: Order,
) {
    let mut buf = Vec::new();
    {
        let mut w = npyz::WriteOptions::<T>::new()
            .dtype(DType::Plain(dtype.parse().unwrap()))
            .shape(shape)
            .order(order)
            .writer(&mut buf)
            .begin_nd()
            .unwrap();
        w.extend(data.iter().copied()).unwrap();
        w.finish().unwrap();
    }
    std::fs::write(path, buf).unwrap();
}

/// Reads an f64/f32 .npy as (shape, data in C order).
pub fn read(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let a = diffusion_lowdim::io::npy::read(path).unwrap();
    (a.shape().to_vec(), a.into_data())
}

/// Lists a directory's entries (names), sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// A path inside a directory.
pub fn at(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Writes a JSON value to a file.
pub fn write_json(path: &Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}
