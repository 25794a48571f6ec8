//! Memory locations shared with another thread (`FastInstance::share_memory_locations`,
//! live migration's pre-copy): published at once, a growth seen after the next WASI call
//! or an explicit refresh, the base never moving, withdrawn when the instance goes.

use crate::support::engine;
use std::sync::{Arc, Mutex};
use tern_fast::{FastInstance, FastModule, Outcome};

const GROWS: &str = r#"(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (memory (export "memory") 1)
  (func (export "grow_and_call")
    (drop (memory.grow (i32.const 2)))
    (i32.store (i32.const 131080) (i32.const 42))
    (drop (call $yield)))
  (func (export "grow_only")
    (drop (memory.grow (i32.const 1)))))"#;

#[test]
fn locations_follow_growth_and_close_with_the_instance() {
    let wasm = wat::parse_str(GROWS).unwrap();
    let module = FastModule::new(engine(), &wasm).unwrap();
    let wasi = tern_wasi::WasiCtxBuilder::new().build().unwrap();
    let mut instance = FastInstance::new(&module, Arc::new(Mutex::new(wasi))).unwrap();
    let locations = instance.share_memory_locations().unwrap();
    let first = locations.with(|r| r.to_vec());
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].len, 65536);

    // Grown, then a WASI call: the new length is published, the base is the same.
    let outcome = instance.invoke("grow_and_call", &[]).unwrap();
    assert_eq!(outcome, Outcome::Finished(vec![]));
    let (ptr, len, generation, byte) = locations.with(|r| {
        // SAFETY: the instance is alive and `with` keeps the location published.
        let byte = unsafe { *((r[0].ptr + 131080) as *const u8) };
        (r[0].ptr, r[0].len, r[0].generation, byte)
    });
    assert_eq!((ptr, len, generation), (first[0].ptr, 3 * 65536, 0));
    assert_eq!(
        byte, 42,
        "the published location is the memory the program wrote"
    );

    // Grown without a WASI call: the old length stays published (still readable) until
    // the owner refreshes.
    instance.invoke("grow_only", &[]).unwrap();
    assert_eq!(locations.with(|r| r[0].len), 3 * 65536);
    instance.refresh_memory_locations();
    assert_eq!(locations.with(|r| (r[0].ptr, r[0].len)), (ptr, 4 * 65536));

    drop(instance);
    assert!(
        locations.with(|r| r.is_empty()),
        "withdrawn before the memory goes"
    );
}
