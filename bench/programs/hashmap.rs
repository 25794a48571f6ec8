//! hashmap: a key-value workload on std's HashMap (with a fixed, FxHash-style
//! hasher so every run does the same work): n operations, a mix of inserts,
//! lookups, updates and removals on keys drawn from a range of n/2 --
//! hashing, probing, growth, allocator traffic.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn main() {
    let n: u64 = std::env::args().nth(1).map_or(2_000_000, |s| s.parse().expect("usage: hashmap [N]"));
    let range = (n / 2).max(1);
    let mut map: HashMap<u64, u64, BuildHasherDefault<Fx>> = HashMap::default();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let (mut found, mut sum) = (0u64, 0u64);
    for i in 0..n {
        let r = rng.next();
        let key = (r >> 8) % range;
        match r & 7 {
            0..=2 => {
                map.insert(key, i);
            }
            3..=5 => {
                if let Some(v) = map.get(&key) {
                    found += 1;
                    sum = sum.wrapping_add(*v ^ key);
                }
            }
            6 => {
                *map.entry(key).or_insert(0) += r >> 40;
            }
            _ => {
                if map.remove(&key).is_some() {
                    found += 1;
                }
            }
        }
    }
    let mut keys = 0u64;
    for (k, v) in &map {
        keys = keys.wrapping_add(k.wrapping_mul(31) ^ v);
    }
    println!("{} keys left, {found} hits", map.len());
    println!("checksum {}", sum ^ keys.rotate_left(13) ^ (map.len() as u64) << 1);
}
