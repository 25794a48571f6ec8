//! fannkuch: the Benchmarks Game's fannkuch-redux -- every permutation of 1..=n
//! (n! of them), counting prefix reversals ("pancake flips") -- small-array
//! shuffling, tight integer loops, branches.

fn fannkuch(n: usize) -> (i64, i32) {
    let mut perm1: Vec<usize> = (0..n).collect();
    let mut perm = vec![0usize; n];
    let mut count = vec![0usize; n];
    let (mut checksum, mut max_flips, mut sign) = (0i64, 0i32, 1i64);
    let mut r = n;
    loop {
        while r != 1 {
            count[r - 1] = r;
            r -= 1;
        }
        perm.copy_from_slice(&perm1);
        let mut flips = 0i32;
        let mut k = perm[0];
        while k != 0 {
            perm[..=k].reverse();
            flips += 1;
            k = perm[0];
        }
        max_flips = max_flips.max(flips);
        checksum += sign * flips as i64;
        sign = -sign;
        loop {
            if r == n {
                return (checksum, max_flips);
            }
            let first = perm1[0];
            perm1.copy_within(1..=r, 0);
            perm1[r] = first;
            count[r] -= 1;
            if count[r] > 0 {
                break;
            }
            r += 1;
        }
    }
}

fn main() {
    let n: usize = std::env::args().nth(1).map_or(9, |s| s.parse().expect("usage: fannkuch [N]"));
    let (sum, flips) = fannkuch(n.max(1));
    println!("{sum}\nPfannkuchen({n}) = {flips}");
    println!("checksum {}", (sum as u64).wrapping_mul(1_000_003) ^ flips as u64);
}
