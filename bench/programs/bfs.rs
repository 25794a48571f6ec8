//! bfs: breadth-first search on a generated graph -- n vertices, 8 random
//! out-edges each plus a ring (so it is connected), stored as compressed
//! sparse rows; BFS from 8 sources, summing distances -- irregular memory
//! access through index arrays, queues.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const DEGREE: usize = 8;

fn main() {
    let n: usize = std::env::args().nth(1).map_or(240_000, |s| s.parse().expect("usage: bfs [N]"));
    let n = n.max(2);
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    // Undirected edges: each vertex's random partners, plus i -- i+1.
    let mut edges: Vec<(u32, u32)> = Vec::with_capacity(n * (DEGREE + 1));
    for v in 0..n {
        edges.push((v as u32, ((v + 1) % n) as u32));
        for _ in 0..DEGREE / 2 {
            let w = (rng.next() % n as u64) as u32;
            edges.push((v as u32, w));
        }
    }
    let mut degree = vec![0u32; n + 1];
    for &(a, b) in &edges {
        degree[a as usize] += 1;
        degree[b as usize] += 1;
    }
    let mut start = vec![0u32; n + 1];
    for v in 0..n {
        start[v + 1] = start[v] + degree[v];
    }
    let mut fill = start.clone();
    let mut adj = vec![0u32; start[n] as usize];
    for &(a, b) in &edges {
        adj[fill[a as usize] as usize] = b;
        fill[a as usize] += 1;
        adj[fill[b as usize] as usize] = a;
        fill[b as usize] += 1;
    }
    drop(edges);

    let mut dist = vec![u32::MAX; n];
    let mut queue = vec![0u32; n];
    let mut checksum = 0u64;
    for s in 0..8u64 {
        let source = (s * 7_919 % n as u64) as usize;
        dist.fill(u32::MAX);
        dist[source] = 0;
        queue[0] = source as u32;
        let (mut head, mut tail) = (0, 1);
        let (mut total, mut far) = (0u64, 0u32);
        while head < tail {
            let v = queue[head] as usize;
            head += 1;
            let d = dist[v] + 1;
            for &w in &adj[start[v] as usize..start[v + 1] as usize] {
                if dist[w as usize] == u32::MAX {
                    dist[w as usize] = d;
                    total += d as u64;
                    far = far.max(d);
                    queue[tail] = w;
                    tail += 1;
                }
            }
        }
        println!("source {source}: {tail} reached, eccentricity {far}, distance sum {total}");
        checksum = checksum.rotate_left(7) ^ total ^ (far as u64) << 48 ^ tail as u64;
    }
    println!("checksum {checksum}");
}
