//! The host side of the tern-instrument ABI on wasmtime: the store's data, the
//! `tern.frame` / `tern.save_*` imports feeding a [`FrameCollector`], and the WASI hooks.

use crate::handle::CheckpointHandle;
use crate::prepare::Prepared;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tern_instrument::clone::{CLONE_FRAME, FUNCS_TABLE, ResumeCollector};
use tern_instrument::{FRAME, FrameCollector, MODULE, UNWINDING_OFFSET, ValKind};
use tern_snapshot::Value;
use tern_wasi::{WasiCtx, WasmtimeHooks};
use wasmtime::{
    AsContextMut, Caller, Extern, ExternRef, Func, Linker, Ref, Rooted, SharedMemory, Table, V128,
};

/// A WASI call that gave way to a checkpoint: issued again after restore.
#[derive(Debug, Clone)]
pub(crate) struct GaveWay {
    pub func: tern_wasi::Func,
    pub args: Vec<u64>,
}

/// The store's data.
pub(crate) struct Host {
    pub wasi: Arc<Mutex<WasiCtx>>,
    pub prepared: Arc<Prepared>,
    pub handle: CheckpointHandle,
    /// The `tern.flags` memory (set right after the store is made).
    pub flags: Option<SharedMemory>,
    pub collector: FrameCollector,
    /// While a restored program runs its continuation clones: the reports of both the
    /// main module and the clones go here instead of `collector`.
    pub resuming: Option<ResumeCollector>,
    pub gave_way: Option<GaveWay>,
    /// `Func::to_raw` address → original function index, built when first needed (a
    /// capture or a funcref result): from the reach exports of `main`, or of the
    /// calling instance when `main` is unset, then `func_index_extra`.
    pub func_index: Option<HashMap<usize, u32>>,
    /// A restored program's main instance: its clones call the `tern.save_*` imports
    /// too, and the clones instance does not export the reach exports.
    pub main: Option<wasmtime::Instance>,
    /// More `(to_raw address, original index)` pairs, for references the main instance's
    /// exports do not give (a restored program's clones instance, see `restore.rs`).
    pub func_index_extra: Vec<(usize, u32)>,
    /// Test hook: request a checkpoint once this many more WASI calls have returned.
    pub after_calls: Option<u64>,
    /// The memories' published locations, while another thread reads them (`share.rs`).
    pub sharing: Option<crate::share::Sharing>,
}

impl Host {
    pub fn new(
        wasi: Arc<Mutex<WasiCtx>>,
        prepared: Arc<Prepared>,
        handle: CheckpointHandle,
    ) -> Host {
        Host {
            wasi,
            prepared,
            handle,
            flags: None,
            collector: FrameCollector::new(),
            resuming: None,
            gave_way: None,
            func_index: None,
            main: None,
            func_index_extra: Vec::new(),
            after_calls: None,
            sharing: None,
        }
    }
}

/// Original function `f` of the main instance `main`, read from its function table
/// ([`FUNCS_TABLE`], added by `export_for_clones`).
pub(crate) fn main_func(
    mut store: impl AsContextMut,
    main: wasmtime::Instance,
    f: u32,
) -> Option<Func> {
    let table = main.get_table(&mut store, FUNCS_TABLE);
    table_func(store, table, f)
}

/// Element `f` of a main instance's function table (`table`, looked up once by callers
/// that read many elements), as a function.
pub(crate) fn table_func(store: impl AsContextMut, table: Option<Table>, f: u32) -> Option<Func> {
    match table?.get(store, u64::from(f))? {
        Ref::Func(func) => func,
        _ => None,
    }
}

/// Builds the funcref → original index table from the main module's function table, for
/// the functions that can be `funcref` values at all, then `extra`; `raw_of` gives the
/// `Func::to_raw` address of an original function.
pub(crate) fn func_index(
    prepared: &Prepared,
    extra: &[(usize, u32)],
    mut raw_of: impl FnMut(u32) -> Option<usize>,
) -> HashMap<usize, u32> {
    let mut index = HashMap::with_capacity(prepared.facts.escaping.len() + extra.len());
    for &f in &prepared.facts.escaping {
        if let Some(raw) = raw_of(f) {
            index.entry(raw).or_insert(f);
        }
    }
    for &(raw, f) in extra {
        index.entry(raw).or_insert(f);
    }
    index
}

/// The original index of `func` (a `funcref` handed to `save_funcref`).
fn original_func(caller: &mut Caller<'_, Host>, func: &Func) -> wasmtime::Result<u32> {
    if caller.data().func_index.is_none() {
        let prepared = caller.data().prepared.clone();
        let extra = std::mem::take(&mut caller.data_mut().func_index_extra);
        let table = match caller.data().main {
            Some(main) => main.get_table(&mut *caller, FUNCS_TABLE),
            None => caller.get_export(FUNCS_TABLE).and_then(Extern::into_table),
        };
        let index = func_index(&prepared, &extra, |f| {
            let func = table_func(&mut *caller, table, f)?;
            Some(func.to_raw(&mut *caller).addr())
        });
        caller.data_mut().func_index = Some(index);
    }
    let raw = func.to_raw(&mut *caller).addr();
    caller
        .data()
        .func_index
        .as_ref()
        .and_then(|index| index.get(&raw).copied())
        .ok_or_else(|| {
            wasmtime::Error::msg("a funcref on the stack is not a function of the module")
        })
}

fn save(caller: &mut Caller<'_, Host>, value: Value) -> wasmtime::Result<()> {
    let host = caller.data_mut();
    match host.resuming.as_mut() {
        Some(resuming) => resuming.save(value),
        None => host.collector.save(value),
    }
    .map_err(wasmtime::Error::new)
}

/// Defines `tern.frame`, `tern.clone_frame` (reported by continuation clones) and the
/// `tern.save_*` imports.
pub(crate) fn define_abi(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        FRAME,
        |mut caller: Caller<'_, Host>, func: i32, site: i32| {
            let host = caller.data_mut();
            match host.resuming.as_mut() {
                Some(resuming) => resuming.frame(func as u32, site as u32),
                None => host.collector.frame(func as u32, site as u32),
            }
        },
    )?;
    linker.func_wrap(
        MODULE,
        CLONE_FRAME,
        |mut caller: Caller<'_, Host>, func: i32, site: i32| match caller
            .data_mut()
            .resuming
            .as_mut()
        {
            Some(resuming) => {
                resuming.clone_frame(func as u32, site as u32);
                Ok(())
            }
            None => Err(wasmtime::Error::msg(
                "a continuation clone reported a frame outside a restore",
            )),
        },
    )?;
    for kind in ValKind::ALL {
        let name = kind.save_import();
        match kind {
            ValKind::I32 => linker.func_wrap(MODULE, name, |mut c: Caller<'_, Host>, v: i32| {
                save(&mut c, Value::I32(v as u32))
            })?,
            ValKind::I64 => linker.func_wrap(MODULE, name, |mut c: Caller<'_, Host>, v: i64| {
                save(&mut c, Value::I64(v as u64))
            })?,
            ValKind::F32 => linker.func_wrap(MODULE, name, |mut c: Caller<'_, Host>, v: f32| {
                save(&mut c, Value::F32(v.to_bits()))
            })?,
            ValKind::F64 => linker.func_wrap(MODULE, name, |mut c: Caller<'_, Host>, v: f64| {
                save(&mut c, Value::F64(v.to_bits()))
            })?,
            ValKind::V128 => {
                linker.func_wrap(MODULE, name, |mut c: Caller<'_, Host>, v: V128| {
                    save(&mut c, Value::V128(v.as_u128()))
                })?
            }
            ValKind::FuncRef => {
                linker.func_wrap(MODULE, name, |mut c: Caller<'_, Host>, v: Option<Func>| {
                    let value = match v {
                        None => None,
                        Some(f) => Some(original_func(&mut c, &f)?),
                    };
                    save(&mut c, Value::FuncRef(value))
                })?
            }
            ValKind::ExternRef => linker.func_wrap(
                MODULE,
                name,
                |mut c: Caller<'_, Host>, v: Option<Rooted<ExternRef>>| {
                    if v.is_some() {
                        return Err(wasmtime::Error::msg(
                            "a non-null externref is live: host references have no canonical form",
                        ));
                    }
                    save(&mut c, Value::ExternRef(None))
                },
            )?,
        };
    }
    Ok(())
}

impl WasmtimeHooks for Host {
    fn gave_way(
        caller: &mut Caller<'_, Self>,
        func: tern_wasi::Func,
        args: &[u64],
    ) -> wasmtime::Result<()> {
        let Some(flags) = &caller.data().flags else {
            return Err(wasmtime::Error::msg("no flag memory"));
        };
        crate::instance::flag_word(flags, UNWINDING_OFFSET)
            .store(1, std::sync::atomic::Ordering::SeqCst);
        caller.data_mut().gave_way = Some(GaveWay {
            func,
            args: args.to_vec(),
        });
        Ok(())
    }

    fn returned(caller: &mut Caller<'_, Self>, _func: tern_wasi::Func) {
        // A memory that grew since the last WASI call becomes visible to the reader.
        if let Some(mut sharing) = caller.data_mut().sharing.take() {
            sharing.refresh(&*caller);
            caller.data_mut().sharing = Some(sharing);
        }
        let host = caller.data_mut();
        if let Some(n) = host.after_calls.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                host.after_calls = None;
                host.handle.request();
            }
        }
    }
}
