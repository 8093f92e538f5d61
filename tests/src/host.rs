//! A minimal CLAP host for tests: load a `.clap` file, create a plugin, give it the host
//! extensions it asks for, and drive its lifecycle and process calls from one thread.
//!
//! # Threads
//!
//! The test thread that creates a [`PluginInstance`] plays both the host's main thread and its
//! audio thread. The host's `clap.thread-check` extension tells the plugin which one it is in:
//! during `start_processing`, `process`, `stop_processing` and a `params.flush` of an active plugin
//! the calling thread counts as the audio thread (and not the main thread); at all other times it
//! counts as the main thread. Threads the plugin starts itself are neither.
//!
//! When the plugin calls `request_callback`, the host calls the plugin's `on_main_thread` after
//! the current process call returns (see [`PluginInstance::pump_main_thread`]).
//!
//! # GUI
//!
//! The host offers `clap.gui` (its callbacks are counted; it refuses to resize) and drives the
//! plugin's `clap.gui` embedded in a window the test makes (see [`crate::x11`]): `gui_create`,
//! `gui_set_scale`, `gui_get_size`, `gui_set_parent_x11`, `gui_show`, `gui_hide`,
//! `gui_destroy`, all on the main thread.
//!
//! # Host profiles
//!
//! [`HostProfile::Standard`] is a host that takes CLAP notes and MIDI alike.
//! [`HostProfile::CarlaLike`] acts as Carla does with a CLAP plugin: its `clap_host.name` is
//! "Carla", its note ports support only the MIDI dialect, and it drops every CLAP note event a
//! plugin pushes (counted in [`BlockOutput::dropped_clap_notes`]), keeping only raw MIDI.
//!
//! # Lifetimes
//!
//! A [`ClapLibrary`] is a counted handle on a loaded `.clap` file: the first handle for a path
//! opens the file and calls `clap_entry.init(path)`, the last one dropped calls `deinit` and
//! closes it. A [`PluginInstance`] keeps its library handle, and on drop stops processing,
//! deactivates and destroys the plugin before the handle goes.

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use clap_sys::audio_buffer::clap_audio_buffer;
use clap_sys::entry::clap_plugin_entry;
use clap_sys::events::{
    CLAP_CORE_EVENT_SPACE_ID, CLAP_EVENT_NOTE_CHOKE, CLAP_EVENT_NOTE_END,
    CLAP_EVENT_NOTE_EXPRESSION, CLAP_EVENT_NOTE_OFF, CLAP_EVENT_NOTE_ON, clap_event_header,
    clap_event_transport, clap_input_events, clap_output_events,
};
use clap_sys::ext::audio_ports::{
    CLAP_EXT_AUDIO_PORTS, clap_audio_port_info, clap_host_audio_ports, clap_plugin_audio_ports,
};
use clap_sys::ext::gui::{
    CLAP_EXT_GUI, CLAP_WINDOW_API_X11, clap_host_gui, clap_plugin_gui, clap_window,
    clap_window_handle,
};
use clap_sys::ext::latency::{CLAP_EXT_LATENCY, clap_host_latency, clap_plugin_latency};
use clap_sys::ext::log::{CLAP_EXT_LOG, clap_host_log, clap_log_severity};
use clap_sys::ext::note_ports::{
    CLAP_EXT_NOTE_PORTS, CLAP_NOTE_DIALECT_CLAP, CLAP_NOTE_DIALECT_MIDI, clap_host_note_ports,
    clap_note_dialect, clap_note_port_info, clap_plugin_note_ports,
};
use clap_sys::ext::params::{
    CLAP_EXT_PARAMS, CLAP_PARAM_IS_STEPPED, clap_host_params, clap_param_clear_flags,
    clap_param_info, clap_param_info_flags, clap_param_rescan_flags, clap_plugin_params,
};
use clap_sys::ext::render::{
    CLAP_EXT_RENDER, CLAP_RENDER_OFFLINE, CLAP_RENDER_REALTIME, clap_plugin_render,
};
use clap_sys::ext::state::{CLAP_EXT_STATE, clap_host_state, clap_plugin_state};
use clap_sys::ext::thread_check::{CLAP_EXT_THREAD_CHECK, clap_host_thread_check};
use clap_sys::factory::plugin_factory::{CLAP_PLUGIN_FACTORY_ID, clap_plugin_factory};
use clap_sys::host::clap_host;
use clap_sys::id::clap_id;
use clap_sys::plugin::{clap_plugin, clap_plugin_descriptor};
use clap_sys::process::{CLAP_PROCESS_ERROR, clap_process, clap_process_status};
use clap_sys::stream::{clap_istream, clap_ostream};
use clap_sys::version::{CLAP_VERSION, clap_version_is_compatible};

use crate::events::{InputEvent, InputEventList, OutEvent, OutParamValue, OutputEventList};
use crate::transport::TransportInfo;

/// An error from the host: what failed, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(pub String);

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostError {}

/// Shorthand for results of host operations.
pub type HostResult<T> = Result<T, HostError>;

/// Builds an `Err(HostError)` from a format string.
macro_rules! host_err {
    ($($arg:tt)*) => { Err(HostError(format!($($arg)*))) };
}

/// Reads a C string the plugin owns; `None` for a null pointer.
///
/// # Safety
///
/// `ptr` must be null or point to a NUL-terminated string.
unsafe fn c_str(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: the caller guarantees a NUL-terminated string.
        Some(
            unsafe { CStr::from_ptr(ptr) }
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// Reads a fixed-size, NUL-terminated `c_char` array (CLAP's name and path fields).
fn c_array(chars: &[c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One loaded `.clap` file in the process registry.
struct Loaded {
    /// The canonical path the file was loaded from.
    path: PathBuf,
    /// The open shared library.
    library: Arc<libloading::Library>,
    /// `clap_entry` inside `library`.
    entry: EntryPtr,
    /// How many [`ClapLibrary`] handles are alive for this path.
    handles: usize,
}

/// A pointer to a plugin's `clap_entry`.
#[derive(Clone, Copy)]
struct EntryPtr(*const clap_plugin_entry);

// SAFETY: the CLAP spec makes the entry's functions and the plugin factory thread-safe; the
// pointer points into a library kept open while the pointer is used.
unsafe impl Send for EntryPtr {}
// SAFETY: as above.
unsafe impl Sync for EntryPtr {}

/// Every `.clap` file this process has open, so that each is initialised once.
static REGISTRY: Mutex<Vec<Loaded>> = Mutex::new(Vec::new());

/// What a plugin's descriptor says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDescriptor {
    /// The plugin's unique id, e.g. `dev.antiphon.antiphon`.
    pub id: String,
    /// The plugin's display name.
    pub name: String,
    /// The vendor's name.
    pub vendor: String,
    /// The plugin's version string.
    pub version: String,
    /// The feature strings (`instrument`, `note-effect`, …).
    pub features: Vec<String>,
}

impl PluginDescriptor {
    /// Reads a descriptor the plugin owns.
    ///
    /// # Safety
    ///
    /// `desc` must point to a valid descriptor.
    unsafe fn read(desc: *const clap_plugin_descriptor) -> Self {
        // SAFETY: the caller guarantees a valid descriptor with valid strings.
        unsafe {
            let d = &*desc;
            let mut features = Vec::new();
            if !d.features.is_null() {
                let mut i = 0;
                while !(*d.features.add(i)).is_null() {
                    features.push(c_str(*d.features.add(i)).unwrap_or_default());
                    i += 1;
                }
            }
            Self {
                id: c_str(d.id).unwrap_or_default(),
                name: c_str(d.name).unwrap_or_default(),
                vendor: c_str(d.vendor).unwrap_or_default(),
                version: c_str(d.version).unwrap_or_default(),
                features,
            }
        }
    }
}

/// A counted handle on a loaded `.clap` file (see the module docs).
pub struct ClapLibrary {
    /// The canonical path of the file.
    path: PathBuf,
    /// Keeps the shared library open while this handle lives.
    _library: Arc<libloading::Library>,
    /// `clap_entry` inside the library.
    entry: EntryPtr,
}

impl ClapLibrary {
    /// Opens `path` (dlopen), finds `clap_entry`, checks its CLAP version and calls
    /// `init(path)` — or, when this process already has the file open, returns another handle
    /// on it.
    pub fn load(path: &Path) -> HostResult<Self> {
        let path = path
            .canonicalize()
            .map_err(|e| HostError(format!("cannot resolve {}: {e}", path.display())))?;
        let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(loaded) = registry.iter_mut().find(|l| l.path == path) {
            loaded.handles += 1;
            return Ok(Self {
                path,
                _library: loaded.library.clone(),
                entry: loaded.entry,
            });
        }
        // SAFETY: loading a CLAP plugin runs its initialisers; that is what this host is for.
        let library = unsafe { libloading::Library::new(&path) }
            .map_err(|e| HostError(format!("cannot load {}: {e}", path.display())))?;
        // SAFETY: `clap_entry` is a `clap_plugin_entry` static by the CLAP ABI.
        let entry: *const clap_plugin_entry = unsafe {
            *library
                .get::<*const clap_plugin_entry>(c"clap_entry")
                .map_err(|e| HostError(format!("{} has no clap_entry: {e}", path.display())))?
        };
        if entry.is_null() {
            return host_err!("{}: clap_entry is null", path.display());
        }
        // SAFETY: `entry` points to the plugin's entry struct.
        let entry_ref = unsafe { &*entry };
        if !clap_version_is_compatible(entry_ref.clap_version) {
            return host_err!(
                "{}: incompatible CLAP version {:?}",
                path.display(),
                entry_ref.clap_version
            );
        }
        let c_path = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| HostError("path contains NUL".into()))?;
        let Some(init) = entry_ref.init else {
            return host_err!("{}: clap_entry has no init", path.display());
        };
        // SAFETY: called once per load, with the file's path, as the spec asks.
        if !unsafe { init(c_path.as_ptr()) } {
            return host_err!("{}: clap_entry.init returned false", path.display());
        }
        let library = Arc::new(library);
        registry.push(Loaded {
            path: path.clone(),
            library: library.clone(),
            entry: EntryPtr(entry),
            handles: 1,
        });
        Ok(Self {
            path,
            _library: library,
            entry: EntryPtr(entry),
        })
    }

    /// The canonical path the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin factory (`clap.plugin-factory`).
    fn factory(&self) -> HostResult<&clap_plugin_factory> {
        // SAFETY: the entry stays valid while the library is open.
        let entry = unsafe { &*self.entry.0 };
        let Some(get_factory) = entry.get_factory else {
            return host_err!("clap_entry has no get_factory");
        };
        // SAFETY: a valid factory id.
        let factory = unsafe { get_factory(CLAP_PLUGIN_FACTORY_ID.as_ptr()) };
        if factory.is_null() {
            return host_err!("the plugin has no clap.plugin-factory");
        }
        // SAFETY: the factory id names a `clap_plugin_factory`.
        Ok(unsafe { &*(factory as *const clap_plugin_factory) })
    }

    /// The descriptors of every plugin the factory offers.
    pub fn descriptors(&self) -> HostResult<Vec<PluginDescriptor>> {
        let factory = self.factory()?;
        let (Some(count), Some(get)) = (factory.get_plugin_count, factory.get_plugin_descriptor)
        else {
            return host_err!("the plugin factory lacks count or descriptor functions");
        };
        let mut out = Vec::new();
        // SAFETY: valid factory; indices below the count.
        unsafe {
            for i in 0..count(factory) {
                let desc = get(factory, i);
                if !desc.is_null() {
                    out.push(PluginDescriptor::read(desc));
                }
            }
        }
        Ok(out)
    }
}

impl Drop for ClapLibrary {
    fn drop(&mut self) {
        let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let Some(index) = registry.iter().position(|l| l.path == self.path) else {
            return;
        };
        registry[index].handles -= 1;
        if registry[index].handles == 0 {
            let loaded = registry.remove(index);
            // SAFETY: the last handle: no plugin of this library is alive any more.
            unsafe {
                if let Some(deinit) = (*loaded.entry.0).deinit {
                    deinit();
                }
            }
            // `loaded.library` and then `self._library` drop: the file is closed.
        }
    }
}

/// One message the plugin logged through the host's `clap.log` extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    /// `CLAP_LOG_DEBUG` (0) … `CLAP_LOG_PLUGIN_MISBEHAVING` (6).
    pub severity: clap_log_severity,
    /// The message text.
    pub message: String,
}

/// How often the plugin called each host callback (a snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostCounters {
    /// `clap_host.request_restart`.
    pub request_restart: u32,
    /// `clap_host.request_process`.
    pub request_process: u32,
    /// `clap_host.request_callback`.
    pub request_callback: u32,
    /// How often the host called the plugin's `on_main_thread` in answer.
    pub on_main_thread_calls: u32,
    /// `clap_host_params.rescan`.
    pub params_rescan: u32,
    /// `clap_host_params.clear`.
    pub params_clear: u32,
    /// `clap_host_params.request_flush`.
    pub params_request_flush: u32,
    /// `clap_host_state.mark_dirty`.
    pub state_mark_dirty: u32,
    /// `clap_host_latency.changed`.
    pub latency_changed: u32,
    /// `clap_host_note_ports.rescan`.
    pub note_ports_rescan: u32,
    /// `clap_host_audio_ports.rescan`.
    pub audio_ports_rescan: u32,
    /// Extension ids the plugin asked the host for that this host does not offer.
    pub unknown_extension_queries: u32,
    /// `clap_host_gui.request_resize` (refused).
    pub gui_request_resize: u32,
    /// `clap_host_gui.closed`.
    pub gui_closed: u32,
    /// The other `clap_host_gui` calls: `resize_hints_changed`, `request_show`, `request_hide`.
    pub gui_other: u32,
}

/// The live counters behind [`HostCounters`].
#[derive(Default)]
struct AtomicCounters {
    /// See [`HostCounters::request_restart`].
    request_restart: AtomicU32,
    /// See [`HostCounters::request_process`].
    request_process: AtomicU32,
    /// See [`HostCounters::request_callback`].
    request_callback: AtomicU32,
    /// See [`HostCounters::on_main_thread_calls`].
    on_main_thread_calls: AtomicU32,
    /// See [`HostCounters::params_rescan`].
    params_rescan: AtomicU32,
    /// See [`HostCounters::params_clear`].
    params_clear: AtomicU32,
    /// See [`HostCounters::params_request_flush`].
    params_request_flush: AtomicU32,
    /// See [`HostCounters::state_mark_dirty`].
    state_mark_dirty: AtomicU32,
    /// See [`HostCounters::latency_changed`].
    latency_changed: AtomicU32,
    /// See [`HostCounters::note_ports_rescan`].
    note_ports_rescan: AtomicU32,
    /// See [`HostCounters::audio_ports_rescan`].
    audio_ports_rescan: AtomicU32,
    /// See [`HostCounters::unknown_extension_queries`].
    unknown_extension_queries: AtomicU32,
    /// See [`HostCounters::gui_request_resize`].
    gui_request_resize: AtomicU32,
    /// See [`HostCounters::gui_closed`].
    gui_closed: AtomicU32,
    /// See [`HostCounters::gui_other`].
    gui_other: AtomicU32,
}

impl AtomicCounters {
    /// A plain copy of the counters.
    fn snapshot(&self) -> HostCounters {
        let get = |c: &AtomicU32| c.load(Ordering::SeqCst);
        HostCounters {
            request_restart: get(&self.request_restart),
            request_process: get(&self.request_process),
            request_callback: get(&self.request_callback),
            on_main_thread_calls: get(&self.on_main_thread_calls),
            params_rescan: get(&self.params_rescan),
            params_clear: get(&self.params_clear),
            params_request_flush: get(&self.params_request_flush),
            state_mark_dirty: get(&self.state_mark_dirty),
            latency_changed: get(&self.latency_changed),
            note_ports_rescan: get(&self.note_ports_rescan),
            audio_ports_rescan: get(&self.audio_ports_rescan),
            unknown_extension_queries: get(&self.unknown_extension_queries),
            gui_request_resize: get(&self.gui_request_resize),
            gui_closed: get(&self.gui_closed),
            gui_other: get(&self.gui_other),
        }
    }
}

/// Which kind of host [`PluginInstance`] plays (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostProfile {
    /// Takes CLAP notes and MIDI.
    #[default]
    Standard,
    /// Named "Carla"; takes only raw MIDI from the plugin and drops CLAP note events.
    CarlaLike,
}

impl HostProfile {
    /// The host's `clap_host.name`.
    fn name(self) -> &'static CStr {
        match self {
            Self::Standard => c"antiphon-tests",
            Self::CarlaLike => c"Carla",
        }
    }
}

/// What the host callbacks see (`clap_host.host_data` points here).
struct HostShared {
    /// Which kind of host this is.
    profile: HostProfile,
    /// The thread that created the instance: the host's main (and audio) thread.
    main_thread: ThreadId,
    /// True while the main thread is inside an audio-thread call.
    in_audio_call: AtomicBool,
    /// Set by `request_callback`, cleared when the host calls `on_main_thread`.
    callback_requested: AtomicBool,
    /// Every message the plugin logged, in order.
    logs: Mutex<Vec<LogMessage>>,
    /// Callback counters.
    counters: AtomicCounters,
}

/// The `clap_host` and the data its callbacks use, boxed so both keep their address.
struct HostBox {
    /// What the plugin gets; `host_data` points at `shared`.
    clap: clap_host,
    /// The host's state.
    shared: HostShared,
}

/// Recovers the host's state from a `clap_host` pointer the plugin passes back.
///
/// # Safety
///
/// `host` must be the `clap_host` of a live [`HostBox`].
unsafe fn shared<'a>(host: *const clap_host) -> &'a HostShared {
    // SAFETY: `host_data` was set to the box's `shared` field, which outlives the plugin.
    unsafe { &*((*host).host_data as *const HostShared) }
}

/// `clap_host.get_extension`.
unsafe extern "C" fn host_get_extension(
    host: *const clap_host,
    extension_id: *const c_char,
) -> *const c_void {
    if host.is_null() || extension_id.is_null() {
        return std::ptr::null();
    }
    // SAFETY: the plugin passes a NUL-terminated id.
    let id = unsafe { CStr::from_ptr(extension_id) };
    let ext: *const c_void = if id == CLAP_EXT_LOG {
        &HOST_LOG as *const clap_host_log as *const c_void
    } else if id == CLAP_EXT_THREAD_CHECK {
        &HOST_THREAD_CHECK as *const clap_host_thread_check as *const c_void
    } else if id == CLAP_EXT_PARAMS {
        &HOST_PARAMS as *const clap_host_params as *const c_void
    } else if id == CLAP_EXT_STATE {
        &HOST_STATE as *const clap_host_state as *const c_void
    } else if id == CLAP_EXT_LATENCY {
        &HOST_LATENCY as *const clap_host_latency as *const c_void
    } else if id == CLAP_EXT_NOTE_PORTS {
        &HOST_NOTE_PORTS as *const clap_host_note_ports as *const c_void
    } else if id == CLAP_EXT_AUDIO_PORTS {
        &HOST_AUDIO_PORTS as *const clap_host_audio_ports as *const c_void
    } else if id == CLAP_EXT_GUI {
        &HOST_GUI as *const clap_host_gui as *const c_void
    } else {
        // SAFETY: `host` is ours.
        let s = unsafe { shared(host) };
        s.counters
            .unknown_extension_queries
            .fetch_add(1, Ordering::SeqCst);
        std::ptr::null()
    };
    ext
}

/// `clap_host.request_restart`: counted.
unsafe extern "C" fn host_request_restart(host: *const clap_host) {
    // SAFETY: `host` is ours.
    let s = unsafe { shared(host) };
    s.counters.request_restart.fetch_add(1, Ordering::SeqCst);
}

/// `clap_host.request_process`: counted (this host processes whenever the test says).
unsafe extern "C" fn host_request_process(host: *const clap_host) {
    // SAFETY: `host` is ours.
    let s = unsafe { shared(host) };
    s.counters.request_process.fetch_add(1, Ordering::SeqCst);
}

/// `clap_host.request_callback`: counted, and `on_main_thread` is called at the next pump.
unsafe extern "C" fn host_request_callback(host: *const clap_host) {
    // SAFETY: `host` is ours.
    let s = unsafe { shared(host) };
    s.counters.request_callback.fetch_add(1, Ordering::SeqCst);
    s.callback_requested.store(true, Ordering::SeqCst);
}

/// The host's `clap.log`.
static HOST_LOG: clap_host_log = clap_host_log {
    log: Some(host_log),
};

/// `clap_host_log.log`: every message is kept.
unsafe extern "C" fn host_log(
    host: *const clap_host,
    severity: clap_log_severity,
    msg: *const c_char,
) {
    // SAFETY: `host` is ours; the plugin passes a NUL-terminated message.
    let (s, message) = unsafe { (shared(host), c_str(msg).unwrap_or_default()) };
    s.logs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(LogMessage { severity, message });
}

/// The host's `clap.thread-check`.
static HOST_THREAD_CHECK: clap_host_thread_check = clap_host_thread_check {
    is_main_thread: Some(host_is_main_thread),
    is_audio_thread: Some(host_is_audio_thread),
};

/// `clap_host_thread_check.is_main_thread` (see the module docs).
unsafe extern "C" fn host_is_main_thread(host: *const clap_host) -> bool {
    // SAFETY: `host` is ours.
    let s = unsafe { shared(host) };
    std::thread::current().id() == s.main_thread && !s.in_audio_call.load(Ordering::SeqCst)
}

/// `clap_host_thread_check.is_audio_thread` (see the module docs).
unsafe extern "C" fn host_is_audio_thread(host: *const clap_host) -> bool {
    // SAFETY: `host` is ours.
    let s = unsafe { shared(host) };
    std::thread::current().id() == s.main_thread && s.in_audio_call.load(Ordering::SeqCst)
}

/// The host's `clap.params`: all no-ops, counted.
static HOST_PARAMS: clap_host_params = clap_host_params {
    rescan: Some(host_params_rescan),
    clear: Some(host_params_clear),
    request_flush: Some(host_params_request_flush),
};

/// `clap_host_params.rescan`.
unsafe extern "C" fn host_params_rescan(host: *const clap_host, _flags: clap_param_rescan_flags) {
    // SAFETY: `host` is ours.
    unsafe { shared(host) }
        .counters
        .params_rescan
        .fetch_add(1, Ordering::SeqCst);
}

/// `clap_host_params.clear`.
unsafe extern "C" fn host_params_clear(
    host: *const clap_host,
    _param_id: clap_id,
    _flags: clap_param_clear_flags,
) {
    // SAFETY: `host` is ours.
    unsafe { shared(host) }
        .counters
        .params_clear
        .fetch_add(1, Ordering::SeqCst);
}

/// `clap_host_params.request_flush`.
unsafe extern "C" fn host_params_request_flush(host: *const clap_host) {
    // SAFETY: `host` is ours.
    unsafe { shared(host) }
        .counters
        .params_request_flush
        .fetch_add(1, Ordering::SeqCst);
}

/// The host's `clap.state`.
static HOST_STATE: clap_host_state = clap_host_state {
    mark_dirty: Some(host_state_mark_dirty),
};

/// `clap_host_state.mark_dirty`.
unsafe extern "C" fn host_state_mark_dirty(host: *const clap_host) {
    // SAFETY: `host` is ours.
    unsafe { shared(host) }
        .counters
        .state_mark_dirty
        .fetch_add(1, Ordering::SeqCst);
}

/// The host's `clap.latency`.
static HOST_LATENCY: clap_host_latency = clap_host_latency {
    changed: Some(host_latency_changed),
};

/// `clap_host_latency.changed`.
unsafe extern "C" fn host_latency_changed(host: *const clap_host) {
    // SAFETY: `host` is ours.
    unsafe { shared(host) }
        .counters
        .latency_changed
        .fetch_add(1, Ordering::SeqCst);
}

/// The host's `clap.note-ports`.
static HOST_NOTE_PORTS: clap_host_note_ports = clap_host_note_ports {
    supported_dialects: Some(host_note_dialects),
    rescan: Some(host_note_ports_rescan),
};

/// `clap_host_note_ports.supported_dialects`: CLAP notes and MIDI 1 (MIDI only for a
/// Carla-like host).
unsafe extern "C" fn host_note_dialects(host: *const clap_host) -> clap_note_dialect {
    // SAFETY: `host` is ours.
    match unsafe { shared(host) }.profile {
        HostProfile::Standard => CLAP_NOTE_DIALECT_CLAP | CLAP_NOTE_DIALECT_MIDI,
        HostProfile::CarlaLike => CLAP_NOTE_DIALECT_MIDI,
    }
}

/// A Carla-like host's output event list: drops CLAP note events, passes the rest to the list
/// that collects them.
struct CarlaOutput {
    /// The collecting list's vtable.
    inner: clap_output_events,
    /// CLAP note events dropped in this process call.
    dropped_notes: usize,
}

/// `clap_output_events.try_push` of [`CarlaOutput`].
unsafe extern "C" fn carla_try_push(
    list: *const clap_output_events,
    event: *const clap_event_header,
) -> bool {
    if list.is_null() || event.is_null() {
        return false;
    }
    // SAFETY: `ctx` points to the `CarlaOutput` of the current process call, which nothing else
    // touches during it; the plugin passes a valid event.
    unsafe {
        let this = &mut *((*list).ctx as *mut CarlaOutput);
        let header = &*event;
        let is_clap_note = header.space_id == CLAP_CORE_EVENT_SPACE_ID
            && matches!(
                header.type_,
                CLAP_EVENT_NOTE_ON
                    | CLAP_EVENT_NOTE_OFF
                    | CLAP_EVENT_NOTE_CHOKE
                    | CLAP_EVENT_NOTE_END
                    | CLAP_EVENT_NOTE_EXPRESSION
            );
        if is_clap_note {
            this.dropped_notes += 1;
            return true;
        }
        match this.inner.try_push {
            Some(push) => push(&this.inner, event),
            None => false,
        }
    }
}

/// `clap_host_note_ports.rescan`.
unsafe extern "C" fn host_note_ports_rescan(host: *const clap_host, _flags: u32) {
    // SAFETY: `host` is ours.
    unsafe { shared(host) }
        .counters
        .note_ports_rescan
        .fetch_add(1, Ordering::SeqCst);
}

/// The host's `clap.audio-ports`.
static HOST_AUDIO_PORTS: clap_host_audio_ports = clap_host_audio_ports {
    is_rescan_flag_supported: Some(host_audio_ports_flag_supported),
    rescan: Some(host_audio_ports_rescan),
};

/// `clap_host_audio_ports.is_rescan_flag_supported`: no flag is.
unsafe extern "C" fn host_audio_ports_flag_supported(_host: *const clap_host, _flag: u32) -> bool {
    false
}

/// `clap_host_audio_ports.rescan`.
unsafe extern "C" fn host_audio_ports_rescan(host: *const clap_host, _flags: u32) {
    // SAFETY: `host` is ours.
    unsafe { shared(host) }
        .counters
        .audio_ports_rescan
        .fetch_add(1, Ordering::SeqCst);
}

/// The host's `clap.gui`: counted; the host's window keeps its size.
static HOST_GUI: clap_host_gui = clap_host_gui {
    resize_hints_changed: Some(host_gui_other),
    request_resize: Some(host_gui_request_resize),
    request_show: Some(host_gui_request),
    request_hide: Some(host_gui_request),
    closed: Some(host_gui_closed),
};

/// `clap_host_gui.resize_hints_changed`: counted.
unsafe extern "C" fn host_gui_other(host: *const clap_host) {
    // SAFETY: `host` is ours.
    unsafe { shared(host) }
        .counters
        .gui_other
        .fetch_add(1, Ordering::SeqCst);
}

/// `clap_host_gui.request_show` and `request_hide`: counted, granted (the window is already
/// in the state the test put it in).
unsafe extern "C" fn host_gui_request(host: *const clap_host) -> bool {
    // SAFETY: `host` is ours.
    unsafe { host_gui_other(host) };
    true
}

/// `clap_host_gui.request_resize`: counted and refused.
unsafe extern "C" fn host_gui_request_resize(
    host: *const clap_host,
    _width: u32,
    _height: u32,
) -> bool {
    // SAFETY: `host` is ours.
    unsafe { shared(host) }
        .counters
        .gui_request_resize
        .fetch_add(1, Ordering::SeqCst);
    false
}

/// `clap_host_gui.closed`: counted.
unsafe extern "C" fn host_gui_closed(host: *const clap_host, _was_destroyed: bool) {
    // SAFETY: `host` is ours.
    unsafe { shared(host) }
        .counters
        .gui_closed
        .fetch_add(1, Ordering::SeqCst);
}

/// A parameter as `clap_plugin_params.get_info` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// The parameter's CLAP id (what events and `get_value` use).
    pub id: clap_id,
    /// The display name.
    pub name: String,
    /// The module path (group), may be empty.
    pub module: String,
    /// The lowest CLAP value.
    pub min_value: f64,
    /// The highest CLAP value.
    pub max_value: f64,
    /// The default CLAP value.
    pub default_value: f64,
    /// `CLAP_PARAM_*` flags.
    pub flags: clap_param_info_flags,
}

impl ParamInfo {
    /// Whether the parameter only takes whole-number CLAP values (`CLAP_PARAM_IS_STEPPED`).
    pub fn is_stepped(&self) -> bool {
        self.flags & CLAP_PARAM_IS_STEPPED != 0
    }
}

/// A note port as `clap_plugin_note_ports.get` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotePortInfo {
    /// The port's id.
    pub id: clap_id,
    /// Dialects the port supports (`CLAP_NOTE_DIALECT_*` bits).
    pub supported_dialects: clap_note_dialect,
    /// The dialect the plugin prefers.
    pub preferred_dialect: clap_note_dialect,
    /// The port's name.
    pub name: String,
}

/// An audio port as `clap_plugin_audio_ports.get` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioPortInfo {
    /// The port's id.
    pub id: clap_id,
    /// The port's name.
    pub name: String,
    /// `CLAP_AUDIO_PORT_*` flags.
    pub flags: u32,
    /// The number of channels.
    pub channel_count: u32,
    /// The port type (`mono`, `stereo`, …), empty when unset.
    pub port_type: String,
}

/// Where the plugin is in CLAP's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Created and initialised, not activated.
    Inactive,
    /// Activated, not processing.
    Active,
    /// Activated and between `start_processing` and `stop_processing`.
    Processing,
}

/// What one process call gave back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockOutput {
    /// The status the plugin returned (`CLAP_PROCESS_*`).
    pub status: clap_process_status,
    /// Absolute sample index of the block's first sample.
    pub block_start_sample: u64,
    /// Note events, normalised (see [`OutEvent`]), in the order the plugin pushed them.
    pub notes: Vec<OutEvent>,
    /// Parameter values the plugin reported.
    pub params: Vec<OutParamValue>,
    /// Other MIDI messages with their absolute sample index.
    pub other_midi: Vec<(u64, [u8; 3])>,
    /// Pushed events of other types.
    pub other_events: usize,
    /// Pushed events whose offset was at or past the block's end.
    pub out_of_block_events: usize,
    /// CLAP note events a Carla-like host dropped (always 0 for a standard host).
    pub dropped_clap_notes: usize,
    /// The largest absolute sample value on any output channel.
    pub output_peak: f32,
}

impl BlockOutput {
    /// Whether the plugin returned `CLAP_PROCESS_ERROR`.
    pub fn is_error(&self) -> bool {
        self.status == CLAP_PROCESS_ERROR
    }
}

/// The channels of one audio port, with the pointer array CLAP wants.
struct PortBuffers {
    /// One buffer per channel, `max_frames` long.
    channels: Vec<Vec<f32>>,
    /// Pointers to the channel buffers (what `data32` points to).
    pointers: Vec<*mut f32>,
}

impl PortBuffers {
    /// Silent buffers for `channel_count` channels of `frames` samples.
    fn new(channel_count: u32, frames: u32) -> Self {
        let mut channels: Vec<Vec<f32>> = (0..channel_count)
            .map(|_| vec![0.0; frames as usize])
            .collect();
        let pointers = channels.iter_mut().map(|c| c.as_mut_ptr()).collect();
        Self { channels, pointers }
    }

    /// The `clap_audio_buffer` over these channels; valid while `self` is not dropped.
    fn as_clap(&mut self) -> clap_audio_buffer {
        clap_audio_buffer {
            data32: self.pointers.as_mut_ptr(),
            data64: std::ptr::null_mut(),
            channel_count: self.channels.len() as u32,
            latency: 0,
            constant_mask: 0,
        }
    }
}

/// The plugin's extensions this host uses (null when the plugin lacks one).
struct PluginExtensions {
    /// `clap.params`.
    params: *const clap_plugin_params,
    /// `clap.state`.
    state: *const clap_plugin_state,
    /// `clap.note-ports`.
    note_ports: *const clap_plugin_note_ports,
    /// `clap.audio-ports`.
    audio_ports: *const clap_plugin_audio_ports,
    /// `clap.latency`.
    latency: *const clap_plugin_latency,
    /// `clap.render`.
    render: *const clap_plugin_render,
    /// `clap.gui`.
    gui: *const clap_plugin_gui,
}

/// A created and initialised plugin, with its host.
///
/// Not `Send`: everything happens on the thread that created it (see the module docs).
pub struct PluginInstance {
    /// The plugin.
    plugin: *const clap_plugin,
    /// The descriptor the plugin was created from.
    descriptor: PluginDescriptor,
    /// The plugin's extensions.
    ext: PluginExtensions,
    /// Where the plugin is in its lifecycle.
    lifecycle: Lifecycle,
    /// Sample rate of the current activation.
    sample_rate: f64,
    /// `max_frames_count` of the current activation.
    max_frames: u32,
    /// Samples processed since the current activation.
    samples_processed: u64,
    /// Input audio ports' buffers (silent).
    inputs: Vec<PortBuffers>,
    /// Output audio ports' buffers.
    outputs: Vec<PortBuffers>,
    /// Reused input event list.
    input_list: InputEventList,
    /// Reused output event collector.
    output_list: OutputEventList,
    /// Parameter changes to send with the next process call.
    pending_params: Vec<(clap_id, f64)>,
    /// Whether the plugin's GUI was created and not yet destroyed.
    gui_created: bool,
    /// The host; must outlive the plugin.
    host: Box<HostBox>,
    /// The library; dropped last.
    library: ClapLibrary,
}

impl PluginInstance {
    /// Loads `path` and creates the plugin `plugin_id` from it (see [`PluginInstance::new`]).
    pub fn load(path: &Path, plugin_id: &str) -> HostResult<Self> {
        Self::new(ClapLibrary::load(path)?, plugin_id)
    }

    /// Loads `path` and creates the plugin `plugin_id` from it in a host of `profile`.
    pub fn load_as(path: &Path, plugin_id: &str, profile: HostProfile) -> HostResult<Self> {
        Self::new_as(ClapLibrary::load(path)?, plugin_id, profile)
    }

    /// Loads `path` and creates the first plugin its factory lists.
    pub fn load_first(path: &Path) -> HostResult<Self> {
        let library = ClapLibrary::load(path)?;
        let Some(first) = library.descriptors()?.into_iter().next() else {
            return host_err!("{} offers no plugin", path.display());
        };
        Self::new(library, &first.id)
    }

    /// Creates the plugin `plugin_id` from `library` with a fresh host and calls its `init`.
    pub fn new(library: ClapLibrary, plugin_id: &str) -> HostResult<Self> {
        Self::new_as(library, plugin_id, HostProfile::Standard)
    }

    /// Creates the plugin `plugin_id` from `library` with a fresh host of `profile` and calls
    /// its `init`.
    pub fn new_as(library: ClapLibrary, plugin_id: &str, profile: HostProfile) -> HostResult<Self> {
        let descriptor = library
            .descriptors()?
            .into_iter()
            .find(|d| d.id == plugin_id)
            .ok_or_else(|| HostError(format!("no plugin with id {plugin_id}")))?;
        let mut host = Box::new(HostBox {
            clap: clap_host {
                clap_version: CLAP_VERSION,
                host_data: std::ptr::null_mut(),
                name: profile.name().as_ptr(),
                vendor: c"Antiphon developers".as_ptr(),
                url: c"".as_ptr(),
                version: c"0.1.0".as_ptr(),
                get_extension: Some(host_get_extension),
                request_restart: Some(host_request_restart),
                request_process: Some(host_request_process),
                request_callback: Some(host_request_callback),
            },
            shared: HostShared {
                profile,
                main_thread: std::thread::current().id(),
                in_audio_call: AtomicBool::new(false),
                callback_requested: AtomicBool::new(false),
                logs: Mutex::new(Vec::new()),
                counters: AtomicCounters::default(),
            },
        });
        host.clap.host_data = &host.shared as *const HostShared as *mut c_void;

        let factory = library.factory()?;
        let Some(create) = factory.create_plugin else {
            return host_err!("the plugin factory has no create_plugin");
        };
        let c_id = CString::new(plugin_id).map_err(|_| HostError("id contains NUL".into()))?;
        // SAFETY: valid factory, host and id; the host box outlives the plugin.
        let plugin = unsafe { create(factory, &host.clap, c_id.as_ptr()) };
        if plugin.is_null() {
            return host_err!("create_plugin({plugin_id}) returned null");
        }
        let mut instance = Self {
            plugin,
            descriptor,
            ext: PluginExtensions {
                params: std::ptr::null(),
                state: std::ptr::null(),
                note_ports: std::ptr::null(),
                audio_ports: std::ptr::null(),
                latency: std::ptr::null(),
                render: std::ptr::null(),
                gui: std::ptr::null(),
            },
            lifecycle: Lifecycle::Inactive,
            sample_rate: 0.0,
            max_frames: 0,
            samples_processed: 0,
            inputs: Vec::new(),
            outputs: Vec::new(),
            input_list: InputEventList::default(),
            output_list: OutputEventList::default(),
            pending_params: Vec::new(),
            gui_created: false,
            host,
            library,
        };
        // SAFETY: a freshly created plugin.
        let p = unsafe { &*plugin };
        let Some(init) = p.init else {
            return host_err!("the plugin has no init");
        };
        // SAFETY: called once, on the main thread.
        if !unsafe { init(plugin) } {
            // `destroy` is still owed after a failed init; Drop does it.
            return host_err!("plugin init returned false");
        }
        instance.ext = PluginExtensions {
            params: instance.extension(CLAP_EXT_PARAMS) as *const clap_plugin_params,
            state: instance.extension(CLAP_EXT_STATE) as *const clap_plugin_state,
            note_ports: instance.extension(CLAP_EXT_NOTE_PORTS) as *const clap_plugin_note_ports,
            audio_ports: instance.extension(CLAP_EXT_AUDIO_PORTS) as *const clap_plugin_audio_ports,
            latency: instance.extension(CLAP_EXT_LATENCY) as *const clap_plugin_latency,
            render: instance.extension(CLAP_EXT_RENDER) as *const clap_plugin_render,
            gui: instance.extension(CLAP_EXT_GUI) as *const clap_plugin_gui,
        };
        instance.pump_main_thread();
        Ok(instance)
    }

    /// The plugin's extension `id`, or null.
    fn extension(&self, id: &CStr) -> *const c_void {
        // SAFETY: a live plugin.
        match unsafe { (*self.plugin).get_extension } {
            // SAFETY: valid plugin and id.
            Some(get) => unsafe { get(self.plugin, id.as_ptr()) },
            None => std::ptr::null(),
        }
    }

    /// The descriptor the plugin was created from.
    pub fn descriptor(&self) -> &PluginDescriptor {
        &self.descriptor
    }

    /// The library the plugin came from.
    pub fn library(&self) -> &ClapLibrary {
        &self.library
    }

    /// Where the plugin is in its lifecycle.
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// Samples processed since the current activation: the absolute sample index of the next
    /// block's first sample.
    pub fn samples_processed(&self) -> u64 {
        self.samples_processed
    }

    /// The sample rate of the current activation (0 before the first).
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Every message the plugin logged through `clap.log` so far.
    pub fn host_logs(&self) -> Vec<LogMessage> {
        self.host
            .shared
            .logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How often the plugin called each host callback so far.
    pub fn counters(&self) -> HostCounters {
        self.host.shared.counters.snapshot()
    }

    /// Runs `f` with the calling thread marked as the audio thread.
    fn as_audio_thread<T>(&self, f: impl FnOnce() -> T) -> T {
        self.host.shared.in_audio_call.store(true, Ordering::SeqCst);
        let out = f();
        self.host
            .shared
            .in_audio_call
            .store(false, Ordering::SeqCst);
        out
    }

    /// Calls the plugin's `on_main_thread` if it asked for a callback since the last pump;
    /// returns whether it did. The host pumps after every process call and lifecycle change.
    pub fn pump_main_thread(&mut self) -> bool {
        if !self
            .host
            .shared
            .callback_requested
            .swap(false, Ordering::SeqCst)
        {
            return false;
        }
        // SAFETY: a live plugin, on the main thread.
        if let Some(on_main_thread) = unsafe { (*self.plugin).on_main_thread } {
            self.host
                .shared
                .counters
                .on_main_thread_calls
                .fetch_add(1, Ordering::SeqCst);
            // SAFETY: as above.
            unsafe { on_main_thread(self.plugin) };
        }
        true
    }

    // ---- ports and latency ------------------------------------------------------------------

    /// The plugin's note ports (`is_input`: input or output side); empty without the extension.
    pub fn note_ports(&self, is_input: bool) -> Vec<NotePortInfo> {
        let mut out = Vec::new();
        if self.ext.note_ports.is_null() {
            return out;
        }
        // SAFETY: the plugin's own extension struct and functions, on the main thread.
        unsafe {
            let ext = &*self.ext.note_ports;
            let (Some(count), Some(get)) = (ext.count, ext.get) else {
                return out;
            };
            for i in 0..count(self.plugin, is_input) {
                let mut info: clap_note_port_info = std::mem::zeroed();
                if get(self.plugin, i, is_input, &mut info) {
                    out.push(NotePortInfo {
                        id: info.id,
                        supported_dialects: info.supported_dialects,
                        preferred_dialect: info.preferred_dialect,
                        name: c_array(&info.name),
                    });
                }
            }
        }
        out
    }

    /// The plugin's audio ports (`is_input`: input or output side); empty without the extension.
    pub fn audio_ports(&self, is_input: bool) -> Vec<AudioPortInfo> {
        let mut out = Vec::new();
        if self.ext.audio_ports.is_null() {
            return out;
        }
        // SAFETY: the plugin's own extension struct and functions, on the main thread.
        unsafe {
            let ext = &*self.ext.audio_ports;
            let (Some(count), Some(get)) = (ext.count, ext.get) else {
                return out;
            };
            for i in 0..count(self.plugin, is_input) {
                let mut info: clap_audio_port_info = std::mem::zeroed();
                if get(self.plugin, i, is_input, &mut info) {
                    out.push(AudioPortInfo {
                        id: info.id,
                        name: c_array(&info.name),
                        flags: info.flags,
                        channel_count: info.channel_count,
                        port_type: c_str(info.port_type).unwrap_or_default(),
                    });
                }
            }
        }
        out
    }

    /// The latency the plugin reports in samples; `None` without the extension. Only valid
    /// while the plugin is active.
    pub fn latency_samples(&self) -> Option<u32> {
        if self.ext.latency.is_null() {
            return None;
        }
        // SAFETY: the plugin's own extension, on the main thread.
        unsafe { (*self.ext.latency).get.map(|get| get(self.plugin)) }
    }

    /// Switches the plugin between real-time and offline rendering (`clap.render`); returns
    /// what the plugin answered, or an error without the extension.
    pub fn set_render_offline(&mut self, offline: bool) -> HostResult<bool> {
        if self.ext.render.is_null() {
            return host_err!("the plugin has no clap.render");
        }
        let mode = if offline {
            CLAP_RENDER_OFFLINE
        } else {
            CLAP_RENDER_REALTIME
        };
        // SAFETY: the plugin's own extension, on the main thread.
        let ok = unsafe {
            (*self.ext.render)
                .set
                .is_some_and(|set| set(self.plugin, mode))
        };
        Ok(ok)
    }

    // ---- lifecycle --------------------------------------------------------------------------

    /// Activates the plugin (`activate(sample_rate, min_frames, max_frames)`), after setting up
    /// silent buffers for every audio port it declares. The absolute sample counter restarts
    /// at 0.
    pub fn activate(
        &mut self,
        sample_rate: f64,
        min_frames: u32,
        max_frames: u32,
    ) -> HostResult<()> {
        if self.lifecycle != Lifecycle::Inactive {
            return host_err!("activate while {:?}", self.lifecycle);
        }
        if min_frames == 0 || min_frames > max_frames {
            return host_err!("bad frame range {min_frames}..={max_frames}");
        }
        self.inputs = self
            .audio_ports(true)
            .iter()
            .map(|p| PortBuffers::new(p.channel_count, max_frames))
            .collect();
        self.outputs = self
            .audio_ports(false)
            .iter()
            .map(|p| PortBuffers::new(p.channel_count, max_frames))
            .collect();
        // SAFETY: a live plugin, on the main thread.
        let Some(activate) = (unsafe { (*self.plugin).activate }) else {
            return host_err!("the plugin has no activate");
        };
        // SAFETY: as above.
        if !unsafe { activate(self.plugin, sample_rate, min_frames, max_frames) } {
            return host_err!("activate({sample_rate}, {min_frames}, {max_frames}) returned false");
        }
        self.lifecycle = Lifecycle::Active;
        self.sample_rate = sample_rate;
        self.max_frames = max_frames;
        self.samples_processed = 0;
        self.pump_main_thread();
        Ok(())
    }

    /// `start_processing` (on the audio thread).
    pub fn start_processing(&mut self) -> HostResult<()> {
        if self.lifecycle != Lifecycle::Active {
            return host_err!("start_processing while {:?}", self.lifecycle);
        }
        // SAFETY: a live, active plugin.
        let ok = self.as_audio_thread(|| unsafe {
            (*self.plugin)
                .start_processing
                .is_none_or(|start| start(self.plugin))
        });
        if !ok {
            return host_err!("start_processing returned false");
        }
        self.lifecycle = Lifecycle::Processing;
        self.pump_main_thread();
        Ok(())
    }

    /// `stop_processing` (on the audio thread).
    pub fn stop_processing(&mut self) -> HostResult<()> {
        if self.lifecycle != Lifecycle::Processing {
            return host_err!("stop_processing while {:?}", self.lifecycle);
        }
        // SAFETY: a live, processing plugin.
        self.as_audio_thread(|| unsafe {
            if let Some(stop) = (*self.plugin).stop_processing {
                stop(self.plugin);
            }
        });
        self.lifecycle = Lifecycle::Active;
        self.pump_main_thread();
        Ok(())
    }

    /// `deactivate` (on the main thread).
    pub fn deactivate(&mut self) -> HostResult<()> {
        if self.lifecycle != Lifecycle::Active {
            return host_err!("deactivate while {:?}", self.lifecycle);
        }
        // SAFETY: a live, active plugin.
        unsafe {
            if let Some(deactivate) = (*self.plugin).deactivate {
                deactivate(self.plugin);
            }
        }
        self.lifecycle = Lifecycle::Inactive;
        self.pump_main_thread();
        Ok(())
    }

    /// `reset` (on the audio thread): what a host calls to clear the plugin's state between
    /// two blocks, e.g. after a seek while processing.
    pub fn reset(&mut self) -> HostResult<()> {
        if self.lifecycle == Lifecycle::Inactive {
            return host_err!("reset while {:?}", self.lifecycle);
        }
        // SAFETY: a live, active plugin.
        self.as_audio_thread(|| unsafe {
            if let Some(reset) = (*self.plugin).reset {
                reset(self.plugin);
            }
        });
        self.pump_main_thread();
        Ok(())
    }

    /// Processes one block of `frames` samples: sends the queued parameter changes (at offset
    /// 0) and `events` (sorted by offset; every offset must be below `frames`), with
    /// `transport` (or none), and returns what the plugin sent back. The absolute sample
    /// counter then advances by `frames`, and a requested main-thread callback is served.
    pub fn process(
        &mut self,
        frames: u32,
        events: &[InputEvent],
        transport: Option<&TransportInfo>,
    ) -> HostResult<BlockOutput> {
        let clap_transport = transport.map(|t| t.to_clap());
        self.process_with_clap_transport(frames, events, clap_transport.as_ref())
    }

    /// [`Self::process`] with a CLAP transport event as the host built it (any flags: a host
    /// that reports no tempo, no position or no time signature).
    pub fn process_with_clap_transport(
        &mut self,
        frames: u32,
        events: &[InputEvent],
        transport: Option<&clap_event_transport>,
    ) -> HostResult<BlockOutput> {
        if self.lifecycle != Lifecycle::Processing {
            return host_err!("process while {:?}", self.lifecycle);
        }
        if frames == 0 || frames > self.max_frames {
            return host_err!("process of {frames} frames (max {})", self.max_frames);
        }
        if let Some(bad) = events.iter().find(|e| e.offset_samples >= frames) {
            return host_err!(
                "event at offset {} in a block of {frames}",
                bad.offset_samples
            );
        }
        let mut all: Vec<InputEvent> = self
            .pending_params
            .drain(..)
            .map(|(id, value)| InputEvent::param_value(0, id, value))
            .collect();
        all.extend_from_slice(events);
        self.input_list.set(&all);

        for port in &mut self.outputs {
            for channel in &mut port.channels {
                channel.fill(0.0);
            }
        }
        let mut audio_in: Vec<clap_audio_buffer> =
            self.inputs.iter_mut().map(|p| p.as_clap()).collect();
        let mut audio_out: Vec<clap_audio_buffer> =
            self.outputs.iter_mut().map(|p| p.as_clap()).collect();
        let block_start = self.samples_processed;
        self.output_list.begin_block(block_start, frames);
        let in_events: clap_input_events = self.input_list.as_clap();
        let mut carla = CarlaOutput {
            inner: self.output_list.as_clap(),
            dropped_notes: 0,
        };
        let out_events: clap_output_events = match self.host.shared.profile {
            HostProfile::Standard => carla.inner,
            HostProfile::CarlaLike => clap_output_events {
                ctx: &mut carla as *mut CarlaOutput as *mut c_void,
                try_push: Some(carla_try_push),
            },
        };
        let process = clap_process {
            steady_time: block_start as i64,
            frames_count: frames,
            transport: transport.map_or(std::ptr::null(), |t| t as *const clap_event_transport),
            audio_inputs: if audio_in.is_empty() {
                std::ptr::null()
            } else {
                audio_in.as_mut_ptr()
            },
            audio_outputs: if audio_out.is_empty() {
                std::ptr::null_mut()
            } else {
                audio_out.as_mut_ptr()
            },
            audio_inputs_count: audio_in.len() as u32,
            audio_outputs_count: audio_out.len() as u32,
            in_events: &in_events,
            out_events: &out_events,
        };
        // SAFETY: a live, processing plugin; every pointer in `process` lives until the call
        // returns.
        let Some(process_fn) = (unsafe { (*self.plugin).process }) else {
            return host_err!("the plugin has no process");
        };
        // SAFETY: as above.
        let status = self.as_audio_thread(|| unsafe { process_fn(self.plugin, &process) });
        drop(audio_in);
        drop(audio_out);
        self.samples_processed += u64::from(frames);

        let output_peak = self
            .outputs
            .iter()
            .flat_map(|p| p.channels.iter())
            .flat_map(|c| c[..frames as usize].iter())
            .fold(0.0f32, |peak, s| peak.max(s.abs()));
        let out = BlockOutput {
            status,
            block_start_sample: block_start,
            notes: self.output_list.notes.drain(..).collect(),
            params: self.output_list.params.drain(..).collect(),
            other_midi: self.output_list.other_midi.drain(..).collect(),
            other_events: std::mem::take(&mut self.output_list.other_events),
            out_of_block_events: std::mem::take(&mut self.output_list.out_of_block_events),
            dropped_clap_notes: carla.dropped_notes,
            output_peak,
        };
        self.pump_main_thread();
        Ok(out)
    }

    // ---- parameters -------------------------------------------------------------------------

    /// The plugin's params extension, or an error.
    fn params_ext(&self) -> HostResult<&clap_plugin_params> {
        if self.ext.params.is_null() {
            return host_err!("the plugin has no clap.params");
        }
        // SAFETY: the plugin's own extension struct, valid while the plugin lives.
        Ok(unsafe { &*self.ext.params })
    }

    /// Every parameter the plugin declares, in its order.
    pub fn params(&self) -> HostResult<Vec<ParamInfo>> {
        let ext = self.params_ext()?;
        let (Some(count), Some(get_info)) = (ext.count, ext.get_info) else {
            return host_err!("clap.params lacks count or get_info");
        };
        let mut out = Vec::new();
        // SAFETY: valid plugin and extension; indices below the count.
        unsafe {
            for i in 0..count(self.plugin) {
                let mut info: clap_param_info = std::mem::zeroed();
                if get_info(self.plugin, i, &mut info) {
                    out.push(ParamInfo {
                        id: info.id,
                        name: c_array(&info.name),
                        module: c_array(&info.module),
                        min_value: info.min_value,
                        max_value: info.max_value,
                        default_value: info.default_value,
                        flags: info.flags,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The parameter whose display name is exactly `name`; the error lists the names there are.
    pub fn param(&self, name: &str) -> HostResult<ParamInfo> {
        let params = self.params()?;
        if let Some(p) = params.iter().find(|p| p.name == name) {
            return Ok(p.clone());
        }
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        host_err!("no parameter named {name:?}; the plugin has {names:?}")
    }

    /// The current CLAP value of parameter `id` (`get_value`).
    pub fn param_value(&self, id: clap_id) -> HostResult<f64> {
        let ext = self.params_ext()?;
        let Some(get_value) = ext.get_value else {
            return host_err!("clap.params lacks get_value");
        };
        let mut value = 0.0;
        // SAFETY: valid plugin, extension and out pointer.
        if unsafe { get_value(self.plugin, id, &mut value) } {
            Ok(value)
        } else {
            host_err!("get_value({id}) returned false")
        }
    }

    /// The plugin's text for CLAP value `value` of parameter `id` (`value_to_text`).
    pub fn value_to_text(&self, id: clap_id, value: f64) -> HostResult<String> {
        let ext = self.params_ext()?;
        let Some(value_to_text) = ext.value_to_text else {
            return host_err!("clap.params lacks value_to_text");
        };
        let mut buffer = [0 as c_char; 256];
        // SAFETY: valid plugin, extension and buffer of the given size.
        if unsafe { value_to_text(self.plugin, id, value, buffer.as_mut_ptr(), 256) } {
            Ok(c_array(&buffer))
        } else {
            host_err!("value_to_text({id}, {value}) returned false")
        }
    }

    /// The CLAP value the plugin parses `text` to for parameter `id` (`text_to_value`).
    pub fn text_to_value(&self, id: clap_id, text: &str) -> HostResult<f64> {
        let ext = self.params_ext()?;
        let Some(text_to_value) = ext.text_to_value else {
            return host_err!("clap.params lacks text_to_value");
        };
        let c_text = CString::new(text).map_err(|_| HostError("text contains NUL".into()))?;
        let mut value = 0.0;
        // SAFETY: valid plugin, extension, string and out pointer.
        if unsafe { text_to_value(self.plugin, id, c_text.as_ptr(), &mut value) } {
            Ok(value)
        } else {
            host_err!("text_to_value({id}, {text:?}) returned false")
        }
    }

    /// The current value of the parameter named `name`, as the plugin displays it.
    pub fn param_display(&self, name: &str) -> HostResult<String> {
        let info = self.param(name)?;
        self.value_to_text(info.id, self.param_value(info.id)?)
    }

    /// Sets parameter `id` to CLAP value `value`. While processing, the change goes out as a
    /// `CLAP_EVENT_PARAM_VALUE` at offset 0 of the next process call; otherwise it is sent at
    /// once through `params.flush` (on the audio thread when active, else on the main thread).
    pub fn set_param(&mut self, id: clap_id, value: f64) -> HostResult<()> {
        if self.lifecycle == Lifecycle::Processing {
            self.pending_params.push((id, value));
            return Ok(());
        }
        let Some(flush) = self.params_ext()?.flush else {
            return host_err!("clap.params lacks flush");
        };
        let mut list = InputEventList::with_capacity(1);
        list.set(&[InputEvent::param_value(0, id, value)]);
        let in_events = list.as_clap();
        let mut collector = OutputEventList::default();
        let out_events = collector.as_clap();
        let call = || {
            // SAFETY: valid plugin and event lists living until the call returns; not
            // processing, so no process call runs concurrently.
            unsafe { flush(self.plugin, &in_events, &out_events) }
        };
        if self.lifecycle == Lifecycle::Active {
            self.as_audio_thread(call);
        } else {
            call();
        }
        self.pump_main_thread();
        Ok(())
    }

    /// Sets the parameter named `name` to CLAP value `value` (see [`Self::set_param`]); returns
    /// its id. The value must lie within the parameter's range.
    pub fn set_param_by_name(&mut self, name: &str, value: f64) -> HostResult<clap_id> {
        let info = self.param(name)?;
        if !(info.min_value..=info.max_value).contains(&value) {
            return host_err!(
                "{name:?} = {value} is outside {}..={}",
                info.min_value,
                info.max_value
            );
        }
        self.set_param(info.id, value)?;
        Ok(info.id)
    }

    /// Sets the parameter named `name` to the value the plugin parses from `text` (as a user
    /// typing into a host's field would); returns the CLAP value sent.
    pub fn set_param_text(&mut self, name: &str, text: &str) -> HostResult<f64> {
        let info = self.param(name)?;
        let value = self.text_to_value(info.id, text)?;
        self.set_param(info.id, value)?;
        Ok(value)
    }

    // ---- GUI --------------------------------------------------------------------------------

    /// The plugin's gui ext, or an error.
    fn gui_ext(&self) -> HostResult<&clap_plugin_gui> {
        if self.ext.gui.is_null() {
            return host_err!("the plugin has no clap.gui");
        }
        // SAFETY: the plugin's own extension struct.
        Ok(unsafe { &*self.ext.gui })
    }

    /// Calls one of the plugin's `clap.gui` functions through `call` (on the main thread), then
    /// pumps the main thread; `what` names it in errors.
    fn gui_call<T>(
        &mut self,
        what: &str,
        call: impl FnOnce(&clap_plugin_gui, *const clap_plugin) -> Option<T>,
    ) -> HostResult<T> {
        let out = call(self.gui_ext()?, self.plugin);
        self.pump_main_thread();
        out.ok_or_else(|| HostError(format!("clap.gui lacks {what}")))
    }

    /// Whether the plugin has `clap.gui` and supports embedding in an X11 window.
    pub fn gui_supports_x11(&mut self) -> bool {
        self.gui_call("is_api_supported", |gui, plugin| {
            // SAFETY: valid plugin and API string, on the main thread.
            gui.is_api_supported
                .map(|f| unsafe { f(plugin, CLAP_WINDOW_API_X11.as_ptr(), false) })
        })
        .unwrap_or(false)
    }

    /// `gui.create("x11", embedded)`.
    pub fn gui_create_x11(&mut self) -> HostResult<()> {
        let ok = self.gui_call("create", |gui, plugin| {
            // SAFETY: valid plugin and API string, on the main thread.
            gui.create
                .map(|f| unsafe { f(plugin, CLAP_WINDOW_API_X11.as_ptr(), false) })
        })?;
        self.gui_created |= ok;
        if ok {
            Ok(())
        } else {
            host_err!("gui.create(x11, embedded) returned false")
        }
    }

    /// `gui.set_scale(scale)`; returns what the plugin answered (false: it works out its
    /// scale itself).
    pub fn gui_set_scale(&mut self, scale: f64) -> HostResult<bool> {
        self.gui_call("set_scale", |gui, plugin| {
            // SAFETY: valid plugin, on the main thread.
            gui.set_scale.map(|f| unsafe { f(plugin, scale) })
        })
    }

    /// `gui.get_size`: the editor's size in pixels.
    pub fn gui_get_size(&mut self) -> HostResult<(u32, u32)> {
        let (mut width, mut height) = (0u32, 0u32);
        let ok = self.gui_call("get_size", |gui, plugin| {
            // SAFETY: valid plugin and out pointers, on the main thread.
            gui.get_size
                .map(|f| unsafe { f(plugin, &mut width, &mut height) })
        })?;
        if ok {
            Ok((width, height))
        } else {
            host_err!("gui.get_size returned false")
        }
    }

    /// `gui.set_parent` with the X11 window `window`.
    pub fn gui_set_parent_x11(&mut self, window: u32) -> HostResult<()> {
        let parent = clap_window {
            api: CLAP_WINDOW_API_X11.as_ptr(),
            specific: clap_window_handle { x11: window.into() },
        };
        let ok = self.gui_call("set_parent", |gui, plugin| {
            // SAFETY: valid plugin and window description living until the call returns.
            gui.set_parent.map(|f| unsafe { f(plugin, &parent) })
        })?;
        if ok {
            Ok(())
        } else {
            host_err!("gui.set_parent({window:#x}) returned false")
        }
    }

    /// `gui.show`.
    pub fn gui_show(&mut self) -> HostResult<()> {
        // SAFETY: valid plugin, on the main thread.
        let ok = self.gui_call("show", |gui, plugin| gui.show.map(|f| unsafe { f(plugin) }))?;
        if ok {
            Ok(())
        } else {
            host_err!("gui.show returned false")
        }
    }

    /// `gui.hide`.
    pub fn gui_hide(&mut self) -> HostResult<()> {
        // SAFETY: valid plugin, on the main thread.
        let ok = self.gui_call("hide", |gui, plugin| gui.hide.map(|f| unsafe { f(plugin) }))?;
        if ok {
            Ok(())
        } else {
            host_err!("gui.hide returned false")
        }
    }

    /// `gui.destroy`.
    pub fn gui_destroy(&mut self) -> HostResult<()> {
        self.gui_created = false;
        self.gui_call("destroy", |gui, plugin| {
            // SAFETY: valid plugin, on the main thread; the GUI was created.
            gui.destroy.map(|f| unsafe { f(plugin) })
        })
    }

    // ---- state ------------------------------------------------------------------------------

    /// The plugin's state ext, or an error.
    fn state_ext(&self) -> HostResult<&clap_plugin_state> {
        if self.ext.state.is_null() {
            return host_err!("the plugin has no clap.state");
        }
        // SAFETY: the plugin's own extension struct.
        Ok(unsafe { &*self.ext.state })
    }

    /// Saves the plugin's state (`clap_plugin_state.save`) into memory.
    pub fn save_state(&mut self) -> HostResult<Vec<u8>> {
        let Some(save) = self.state_ext()?.save else {
            return host_err!("clap.state lacks save");
        };
        let mut bytes: Vec<u8> = Vec::new();
        let stream = clap_ostream {
            ctx: &mut bytes as *mut Vec<u8> as *mut c_void,
            write: Some(ostream_write),
        };
        // SAFETY: valid plugin and stream living until the call returns.
        let ok = unsafe { save(self.plugin, &stream) };
        self.pump_main_thread();
        if ok {
            Ok(bytes)
        } else {
            host_err!("state save returned false")
        }
    }

    /// Loads state (`clap_plugin_state.load`) from memory.
    pub fn load_state(&mut self, bytes: &[u8]) -> HostResult<()> {
        let Some(load) = self.state_ext()?.load else {
            return host_err!("clap.state lacks load");
        };
        let mut reader = MemoryReader { bytes, position: 0 };
        let stream = clap_istream {
            ctx: &mut reader as *mut MemoryReader as *mut c_void,
            read: Some(istream_read),
        };
        // SAFETY: valid plugin and stream living until the call returns.
        let ok = unsafe { load(self.plugin, &stream) };
        self.pump_main_thread();
        if ok {
            Ok(())
        } else {
            host_err!("state load returned false")
        }
    }
}

impl Drop for PluginInstance {
    fn drop(&mut self) {
        if self.gui_created {
            let _ = self.gui_destroy();
        }
        if self.lifecycle == Lifecycle::Processing {
            let _ = self.stop_processing();
        }
        if self.lifecycle == Lifecycle::Active {
            let _ = self.deactivate();
        }
        // SAFETY: the plugin is inactive and never used again.
        unsafe {
            if let Some(destroy) = (*self.plugin).destroy {
                destroy(self.plugin);
            }
        }
        // Then `host` and `library` drop (deinit + dlclose with the last handle).
    }
}

/// `clap_ostream.write` into a `Vec<u8>`.
unsafe extern "C" fn ostream_write(
    stream: *const clap_ostream,
    buffer: *const c_void,
    size: u64,
) -> i64 {
    // SAFETY: `ctx` is the `Vec<u8>` of `save_state`; the plugin passes `size` readable bytes.
    unsafe {
        let bytes = &mut *((*stream).ctx as *mut Vec<u8>);
        if size > 0 {
            bytes.extend_from_slice(std::slice::from_raw_parts(
                buffer as *const u8,
                size as usize,
            ));
        }
    }
    size as i64
}

/// The read side of `load_state`.
struct MemoryReader<'a> {
    /// All the bytes.
    bytes: &'a [u8],
    /// How many were read.
    position: usize,
}

/// `clap_istream.read` from a [`MemoryReader`]: up to `size` bytes, 0 at the end.
unsafe extern "C" fn istream_read(
    stream: *const clap_istream,
    buffer: *mut c_void,
    size: u64,
) -> i64 {
    // SAFETY: `ctx` is the reader of `load_state`; the plugin passes `size` writable bytes.
    unsafe {
        let reader = &mut *((*stream).ctx as *mut MemoryReader);
        let n = (reader.bytes.len() - reader.position).min(size as usize);
        std::ptr::copy_nonoverlapping(
            reader.bytes[reader.position..].as_ptr(),
            buffer as *mut u8,
            n,
        );
        reader.position += n;
        n as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_streams_round_trip_in_pieces() {
        let mut bytes: Vec<u8> = Vec::new();
        let out = clap_ostream {
            ctx: &mut bytes as *mut Vec<u8> as *mut c_void,
            write: Some(ostream_write),
        };
        unsafe {
            assert_eq!(
                ostream_write(&out, b"hello ".as_ptr() as *const c_void, 6),
                6
            );
            assert_eq!(
                ostream_write(&out, b"world".as_ptr() as *const c_void, 5),
                5
            );
        }
        assert_eq!(bytes, b"hello world");

        let mut reader = MemoryReader {
            bytes: &bytes,
            position: 0,
        };
        let input = clap_istream {
            ctx: &mut reader as *mut MemoryReader as *mut c_void,
            read: Some(istream_read),
        };
        let mut buf = [0u8; 4];
        let mut got = Vec::new();
        loop {
            let n = unsafe { istream_read(&input, buf.as_mut_ptr() as *mut c_void, 4) };
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n as usize]);
        }
        assert_eq!(got, b"hello world");
    }

    #[test]
    fn c_array_stops_at_nul() {
        let mut chars = [0 as c_char; 8];
        for (i, b) in b"Tempo".iter().enumerate() {
            chars[i] = *b as c_char;
        }
        assert_eq!(c_array(&chars), "Tempo");
    }

    #[test]
    fn loading_a_missing_file_is_an_error() {
        let err = ClapLibrary::load(Path::new("/nonexistent/None.clap"))
            .err()
            .expect("must fail");
        assert!(err.0.contains("/nonexistent/None.clap"), "{err}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn loading_a_library_without_clap_entry_is_an_error() {
        // The C library this test process has mapped is a shared library without clap_entry.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let libc = maps
            .lines()
            .filter_map(|line| line.split_whitespace().nth(5))
            .find(|path| path.contains("/libc.so") || path.contains("/libc-"))
            .expect("a dynamically linked test process maps libc");
        let err = ClapLibrary::load(Path::new(libc)).err().expect("must fail");
        assert!(err.0.contains("clap_entry"), "{err}");
    }

    #[test]
    fn host_extensions_answer_and_count() {
        let mut host = Box::new(HostBox {
            clap: clap_host {
                clap_version: CLAP_VERSION,
                host_data: std::ptr::null_mut(),
                name: c"t".as_ptr(),
                vendor: c"t".as_ptr(),
                url: c"".as_ptr(),
                version: c"0".as_ptr(),
                get_extension: Some(host_get_extension),
                request_restart: Some(host_request_restart),
                request_process: Some(host_request_process),
                request_callback: Some(host_request_callback),
            },
            shared: HostShared {
                profile: HostProfile::Standard,
                main_thread: std::thread::current().id(),
                in_audio_call: AtomicBool::new(false),
                callback_requested: AtomicBool::new(false),
                logs: Mutex::new(Vec::new()),
                counters: AtomicCounters::default(),
            },
        });
        host.clap.host_data = &host.shared as *const HostShared as *mut c_void;
        let h = &host.clap as *const clap_host;
        unsafe {
            let log = host_get_extension(h, CLAP_EXT_LOG.as_ptr()) as *const clap_host_log;
            assert!(!log.is_null());
            ((*log).log.unwrap())(h, 3, c"ONNX Runtime not found".as_ptr());
            assert!(!host_get_extension(h, c"clap.gui".as_ptr()).is_null());
            assert!(host_get_extension(h, c"clap.timer-support".as_ptr()).is_null());
            let tc = host_get_extension(h, CLAP_EXT_THREAD_CHECK.as_ptr())
                as *const clap_host_thread_check;
            assert!(((*tc).is_main_thread.unwrap())(h));
            assert!(!((*tc).is_audio_thread.unwrap())(h));
            host.shared.in_audio_call.store(true, Ordering::SeqCst);
            assert!(!((*tc).is_main_thread.unwrap())(h));
            assert!(((*tc).is_audio_thread.unwrap())(h));
            host.shared.in_audio_call.store(false, Ordering::SeqCst);
            let (h_addr, tc_addr) = (h as usize, tc as usize);
            let other = std::thread::spawn(move || {
                let h = h_addr as *const clap_host;
                let tc = tc_addr as *const clap_host_thread_check;
                (
                    ((*tc).is_main_thread.unwrap())(h),
                    ((*tc).is_audio_thread.unwrap())(h),
                )
            });
            assert_eq!(other.join().unwrap(), (false, false));
            let params = host_get_extension(h, CLAP_EXT_PARAMS.as_ptr()) as *const clap_host_params;
            ((*params).rescan.unwrap())(h, 1);
            ((*params).request_flush.unwrap())(h);
            let state = host_get_extension(h, CLAP_EXT_STATE.as_ptr()) as *const clap_host_state;
            ((*state).mark_dirty.unwrap())(h);
            host_request_callback(h);
        }
        let c = host.shared.counters.snapshot();
        assert_eq!(
            (
                c.params_rescan,
                c.params_request_flush,
                c.state_mark_dirty,
                c.request_callback
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(c.unknown_extension_queries, 1);
        assert!(host.shared.callback_requested.load(Ordering::SeqCst));
        let logs = host.shared.logs.lock().unwrap();
        assert_eq!(logs[0].severity, 3);
        assert_eq!(logs[0].message, "ONNX Runtime not found");
    }
}
