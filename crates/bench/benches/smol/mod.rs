//! smoltcp's side of the benches lives in the library (`skiff_bench::smol`).

pub use skiff_bench::smol::*;
