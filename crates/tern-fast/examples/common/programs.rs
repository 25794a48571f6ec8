//! The bench programs the overhead examples run, shared by them.

/// `(program, n)`: the default sizes of `bench/run.py` (fileio needs a directory and
/// measures the host's file system, so it is left out).
pub const PROGRAMS: &[(&str, u64)] = &[
    ("matmul", 380),
    ("nbody", 600_000),
    ("fannkuch", 9),
    ("sha256", 6),
    ("bfs", 240_000),
    ("sort", 1_200_000),
    ("hashmap", 2_000_000),
    ("interp", 80_000),
    ("fib", 36),
    ("mandelbrot", 850),
    ("memhog", 256),
];
