//! Antiphon's CLAP entry: nice-plug's plugin behind a thin layer that can send notes as raw
//! MIDI.
//!
//! nice-plug's CLAP wrapper sends every `NoteEvent::NoteOn`/`NoteOff` as a CLAP note event
//! (`CLAP_EVENT_NOTE_ON`/`OFF`) and says its note output prefers the CLAP dialect. Some hosts
//! (Carla) take only raw MIDI (`CLAP_EVENT_MIDI`) from a CLAP plugin and drop CLAP note events,
//! so they would hear neither the answers nor the thru. nice-plug 0.4.2 has no switch for this,
//! and the plugin cannot send a raw note-on through its API (`NoteEvent` has no such variant).
//!
//! So the entry point is ours. The factory makes nice-plug's `Wrapper` exactly as
//! `nice_export_clap!` does, and hands the host a `clap_plugin` of its own whose functions are
//! nice-plug's, except:
//! - `process`: when notes go out as MIDI, the host's `clap_output_events` is wrapped (a struct on
//!   the stack, nothing allocated) so that each CLAP note-on/off becomes a `CLAP_EVENT_MIDI`
//!   `0x9n`/`0x8n` message at the same time; every other event passes unchanged;
//! - `get_extension("clap.note-ports")`: the output port then says it prefers the MIDI dialect;
//! - `init` finds the Note Output parameter, `activate` latches the dialect for the activation
//!   (a note-on and its note-off always leave the same way), `destroy` frees the layer.
//!
//! Notes go out as MIDI when the Note Output parameter is MIDI, or when it is Auto and the host's
//! `clap_host.name` says Carla. The layer's `clap_plugin.plugin_data` is nice-plug's, so every
//! extension function nice-plug hands out (they find the wrapper through `plugin_data` alone)
//! works on the layer's pointer unchanged.

use std::ffi::{CStr, c_char, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use clap_sys::entry::clap_plugin_entry;
use clap_sys::events::{
    CLAP_CORE_EVENT_SPACE_ID, CLAP_EVENT_MIDI, CLAP_EVENT_NOTE_OFF, CLAP_EVENT_NOTE_ON,
    clap_event_header, clap_event_midi, clap_event_note, clap_output_events,
};
use clap_sys::ext::note_ports::{
    CLAP_EXT_NOTE_PORTS, CLAP_NOTE_DIALECT_MIDI, clap_note_port_info, clap_plugin_note_ports,
};
use clap_sys::ext::params::{CLAP_EXT_PARAMS, clap_param_info, clap_plugin_params};
use clap_sys::factory::plugin_factory::{CLAP_PLUGIN_FACTORY_ID, clap_plugin_factory};
use clap_sys::host::clap_host;
use clap_sys::plugin::{clap_plugin, clap_plugin_descriptor};
use clap_sys::process::{CLAP_PROCESS_ERROR, clap_process, clap_process_status};
use clap_sys::version::CLAP_VERSION;
use nice_plug::wrapper::clap::{PluginDescriptor, Wrapper};
use nice_plug::wrapper::setup_logger;

use crate::Antiphon;

/// Display name of the Note Output parameter (see [`crate::params::NoteOutputParam`]).
const NOTE_OUTPUT_NAME: &str = "Note Output";
/// The Note Output parameter's CLAP value for [`crate::params::NoteOutputParam::Clap`].
const NOTE_OUTPUT_CLAP: f64 = 1.0;
/// The Note Output parameter's CLAP value for [`crate::params::NoteOutputParam::Midi`].
const NOTE_OUTPUT_MIDI: f64 = 2.0;
/// "No parameter found" for [`Shim::note_output_param`].
const NO_PARAM: u32 = u32::MAX;

/// Whether a host of this name drops CLAP note events from a plugin and takes raw MIDI only.
pub fn host_takes_only_midi(host_name: &str) -> bool {
    host_name.to_ascii_lowercase().contains("carla")
}

/// The raw MIDI message of a CLAP note-on or note-off: `0x9n key velocity` (velocity at least
/// 1, as a note-on of velocity 0 would be a note-off) or `0x8n key velocity`. Channel wildcards
/// become channel 1; `None` for a wildcard key (no one MIDI message says "every key").
pub fn note_to_midi(is_on: bool, channel: i16, key: i16, velocity: f64) -> Option<[u8; 3]> {
    let key = u8::try_from(key).ok().filter(|&k| k < 128)?;
    let channel = u8::try_from(channel).ok().filter(|&c| c < 16).unwrap_or(0);
    let velocity = (velocity.clamp(0.0, 1.0) * 127.0).round() as u8;
    Some(if is_on {
        [0x90 | channel, key, velocity.max(1)]
    } else {
        [0x80 | channel, key, velocity]
    })
}

/// The plugin the host sees: nice-plug's functions around a few of our own.
#[repr(C)]
struct Shim {
    /// What the host holds a pointer to; first, so that pointer is also the [`Shim`]'s.
    clap: clap_plugin,
    /// nice-plug's plugin.
    inner: *const clap_plugin,
    /// Whether the host is one that takes only raw MIDI (Note Output = Auto follows it).
    host_takes_only_midi: bool,
    /// CLAP id of the Note Output parameter, or [`NO_PARAM`] until `init` found it.
    note_output_param: AtomicU32,
    /// Whether notes go out as raw MIDI in this activation: latched in `activate`, so a note-on
    /// and its note-off always leave in the same dialect (a change of Note Output takes effect
    /// at the next activation).
    midi_this_activation: AtomicBool,
}

impl Shim {
    /// The shim behind a pointer the host passes back.
    ///
    /// # Safety
    ///
    /// `plugin` must be a pointer [`create_plugin`] returned and [`shim_destroy`] did not free.
    unsafe fn from_plugin<'a>(plugin: *const clap_plugin) -> &'a Self {
        // SAFETY: the host passes back what `create_plugin` returned: a `Shim` whose first field
        // is the `clap_plugin` (repr(C)).
        unsafe { &*(plugin as *const Self) }
    }

    /// nice-plug's function table.
    fn inner(&self) -> &clap_plugin {
        // SAFETY: the wrapper lives until `shim_destroy`, which ends the shim too.
        unsafe { &*self.inner }
    }

    /// nice-plug's extension `id`, or null.
    fn inner_extension(&self, id: *const c_char) -> *const c_void {
        match self.inner().get_extension {
            // SAFETY: nice-plug's own plugin and a NUL-terminated id from the host.
            Some(get) => unsafe { get(self.inner, id) },
            None => std::ptr::null(),
        }
    }

    /// Whether notes go out as raw MIDI now. Reads the parameter through nice-plug's
    /// `params.get_value`, a lock-free lookup that allocates nothing, so the audio thread may
    /// call it too.
    fn midi_output(&self) -> bool {
        let id = self.note_output_param.load(Ordering::Relaxed);
        let params = self.inner_extension(CLAP_EXT_PARAMS.as_ptr()) as *const clap_plugin_params;
        let mut value = 0.0;
        // SAFETY: nice-plug's params extension and plugin; `value` is a valid out pointer.
        let read = id != NO_PARAM
            && !params.is_null()
            && unsafe { (*params).get_value }
                .is_some_and(|get| unsafe { get(self.inner, id, &mut value) });
        match value.round() {
            v if read && v == NOTE_OUTPUT_MIDI => true,
            v if read && v == NOTE_OUTPUT_CLAP => false,
            _ => self.host_takes_only_midi,
        }
    }

    /// Finds the Note Output parameter's CLAP id (main thread, after nice-plug's `init`).
    fn find_note_output_param(&self) {
        let params = self.inner_extension(CLAP_EXT_PARAMS.as_ptr()) as *const clap_plugin_params;
        if params.is_null() {
            return;
        }
        // SAFETY: nice-plug's params extension, called on the main thread.
        let (count, get_info) = unsafe { ((*params).count, (*params).get_info) };
        let (Some(count), Some(get_info)) = (count, get_info) else {
            return;
        };
        // SAFETY: as above.
        for index in 0..unsafe { count(self.inner) } {
            // SAFETY: an all-zero `clap_param_info` is valid (numbers, a null cookie, NULs).
            let mut info: clap_param_info = unsafe { std::mem::zeroed() };
            // SAFETY: as above; `info` is a valid out pointer.
            if !unsafe { get_info(self.inner, index, &mut info) } {
                continue;
            }
            // SAFETY: nice-plug writes a NUL-terminated name into the fixed array.
            let name = unsafe { CStr::from_ptr(info.name.as_ptr()) };
            if name.to_bytes() == NOTE_OUTPUT_NAME.as_bytes() {
                self.note_output_param.store(info.id, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// nice-plug's descriptor of the plugin.
fn descriptor() -> &'static PluginDescriptor {
    /// Made once, on first use.
    static DESCRIPTOR: OnceLock<PluginDescriptor> = OnceLock::new();
    DESCRIPTOR.get_or_init(PluginDescriptor::for_plugin::<Antiphon>)
}

/// The CLAP plugin's entry point.
#[allow(non_upper_case_globals)]
#[unsafe(no_mangle)]
#[used]
pub static clap_entry: clap_plugin_entry = clap_plugin_entry {
    clap_version: CLAP_VERSION,
    init: Some(entry_init),
    deinit: Some(entry_deinit),
    get_factory: Some(entry_get_factory),
};

/// `clap_plugin_entry.init`: sets up nice-plug's logger, as its own entry does.
unsafe extern "C" fn entry_init(_plugin_path: *const c_char) -> bool {
    setup_logger::<Antiphon>();
    true
}

/// `clap_plugin_entry.deinit`: nothing to undo.
unsafe extern "C" fn entry_deinit() {}

/// `clap_plugin_entry.get_factory`: the plugin factory.
unsafe extern "C" fn entry_get_factory(factory_id: *const c_char) -> *const c_void {
    // SAFETY: the host passes a NUL-terminated id.
    if !factory_id.is_null() && unsafe { CStr::from_ptr(factory_id) } == CLAP_PLUGIN_FACTORY_ID {
        &FACTORY as *const clap_plugin_factory as *const c_void
    } else {
        std::ptr::null()
    }
}

/// The plugin factory: one plugin, Antiphon.
static FACTORY: clap_plugin_factory = clap_plugin_factory {
    get_plugin_count: Some(get_plugin_count),
    get_plugin_descriptor: Some(get_plugin_descriptor),
    create_plugin: Some(create_plugin),
};

/// `clap_plugin_factory.get_plugin_count`.
unsafe extern "C" fn get_plugin_count(_factory: *const clap_plugin_factory) -> u32 {
    1
}

/// `clap_plugin_factory.get_plugin_descriptor`.
unsafe extern "C" fn get_plugin_descriptor(
    _factory: *const clap_plugin_factory,
    index: u32,
) -> *const clap_plugin_descriptor {
    if index == 0 {
        descriptor().clap_plugin_descriptor()
    } else {
        std::ptr::null()
    }
}

/// `clap_plugin_factory.create_plugin`: nice-plug's wrapper, made as `nice_export_clap!` makes
/// it, inside a [`Shim`].
unsafe extern "C" fn create_plugin(
    _factory: *const clap_plugin_factory,
    host: *const clap_host,
    plugin_id: *const c_char,
) -> *const clap_plugin {
    if host.is_null() || plugin_id.is_null() {
        return std::ptr::null();
    }
    // SAFETY: the host passes a NUL-terminated id.
    if unsafe { CStr::from_ptr(plugin_id) } != descriptor().clap_id() {
        return std::ptr::null();
    }
    // SAFETY: the host outlives the plugin (CLAP's rule); its name, when set, is NUL-terminated.
    let host_name = unsafe {
        let name = (*host).name;
        if name.is_null() {
            String::new()
        } else {
            CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    };
    // SAFETY: as `nice_export_clap!` does: the `Arc` is released in nice-plug's `destroy`, which
    // `shim_destroy` calls.
    let inner: *const clap_plugin = unsafe {
        (*std::sync::Arc::into_raw(Wrapper::<Antiphon>::new(host)))
            .clap_plugin
            .as_ptr()
    };
    // SAFETY: nice-plug's freshly made plugin.
    let table = unsafe { *inner };
    let shim = Box::new(Shim {
        clap: clap_plugin {
            init: Some(shim_init),
            destroy: Some(shim_destroy),
            process: Some(shim_process),
            activate: Some(shim_activate),
            get_extension: Some(shim_get_extension),
            ..table
        },
        inner,
        host_takes_only_midi: host_takes_only_midi(&host_name),
        note_output_param: AtomicU32::new(NO_PARAM),
        midi_this_activation: AtomicBool::new(false),
    });
    Box::into_raw(shim) as *const clap_plugin
}

/// `clap_plugin.init`: nice-plug's, then finds the Note Output parameter.
unsafe extern "C" fn shim_init(plugin: *const clap_plugin) -> bool {
    if plugin.is_null() {
        return false;
    }
    // SAFETY: the host passes our plugin.
    let shim = unsafe { Shim::from_plugin(plugin) };
    // SAFETY: nice-plug's plugin, on the main thread as the host calls us.
    let ok = shim
        .inner()
        .init
        .is_none_or(|init| unsafe { init(shim.inner) });
    if ok {
        shim.find_note_output_param();
    }
    ok
}

/// `clap_plugin.activate`: nice-plug's, then latches the note dialect for this activation.
unsafe extern "C" fn shim_activate(
    plugin: *const clap_plugin,
    sample_rate: f64,
    min_frames_count: u32,
    max_frames_count: u32,
) -> bool {
    if plugin.is_null() {
        return false;
    }
    // SAFETY: the host passes our plugin.
    let shim = unsafe { Shim::from_plugin(plugin) };
    let Some(activate) = shim.inner().activate else {
        return false;
    };
    // SAFETY: nice-plug's plugin, on the main thread as the host calls us.
    let ok = unsafe { activate(shim.inner, sample_rate, min_frames_count, max_frames_count) };
    shim.midi_this_activation
        .store(shim.midi_output(), Ordering::Release);
    ok
}

/// `clap_plugin.destroy`: nice-plug's, then the shim.
unsafe extern "C" fn shim_destroy(plugin: *const clap_plugin) {
    if plugin.is_null() {
        return;
    }
    // SAFETY: `create_plugin` made this box; the host destroys a plugin once.
    let shim = unsafe { Box::from_raw(plugin as *mut Shim) };
    if let Some(destroy) = shim.inner().destroy {
        // SAFETY: nice-plug's plugin, destroyed once.
        unsafe { destroy(shim.inner) };
    }
}

/// `clap_plugin.get_extension`: nice-plug's, with our note ports.
unsafe extern "C" fn shim_get_extension(
    plugin: *const clap_plugin,
    id: *const c_char,
) -> *const c_void {
    if plugin.is_null() || id.is_null() {
        return std::ptr::null();
    }
    // SAFETY: the host passes our plugin.
    let shim = unsafe { Shim::from_plugin(plugin) };
    let ext = shim.inner_extension(id);
    // SAFETY: the host passes a NUL-terminated id.
    if !ext.is_null() && unsafe { CStr::from_ptr(id) } == CLAP_EXT_NOTE_PORTS {
        &NOTE_PORTS as *const clap_plugin_note_ports as *const c_void
    } else {
        ext
    }
}

/// Our `clap.note-ports`: nice-plug's ports, the output preferring MIDI when notes go out as
/// MIDI.
static NOTE_PORTS: clap_plugin_note_ports = clap_plugin_note_ports {
    count: Some(note_ports_count),
    get: Some(note_ports_get),
};

/// nice-plug's note-ports extension.
fn inner_note_ports(shim: &Shim) -> Option<&clap_plugin_note_ports> {
    let ext = shim.inner_extension(CLAP_EXT_NOTE_PORTS.as_ptr()) as *const clap_plugin_note_ports;
    // SAFETY: nice-plug's extension struct lives as long as its plugin.
    unsafe { ext.as_ref() }
}

/// `clap_plugin_note_ports.count`: nice-plug's.
unsafe extern "C" fn note_ports_count(plugin: *const clap_plugin, is_input: bool) -> u32 {
    if plugin.is_null() {
        return 0;
    }
    // SAFETY: the host passes our plugin.
    let shim = unsafe { Shim::from_plugin(plugin) };
    match inner_note_ports(shim).and_then(|ext| ext.count) {
        // SAFETY: nice-plug's plugin and extension.
        Some(count) => unsafe { count(shim.inner, is_input) },
        None => 0,
    }
}

/// `clap_plugin_note_ports.get`: nice-plug's, the output port preferring MIDI when notes go out
/// as MIDI.
unsafe extern "C" fn note_ports_get(
    plugin: *const clap_plugin,
    index: u32,
    is_input: bool,
    info: *mut clap_note_port_info,
) -> bool {
    if plugin.is_null() || info.is_null() {
        return false;
    }
    // SAFETY: the host passes our plugin.
    let shim = unsafe { Shim::from_plugin(plugin) };
    let Some(get) = inner_note_ports(shim).and_then(|ext| ext.get) else {
        return false;
    };
    // SAFETY: nice-plug's plugin and extension; `info` is the host's out pointer.
    let ok = unsafe { get(shim.inner, index, is_input, info) };
    if ok && !is_input && shim.midi_output() {
        // SAFETY: as above.
        unsafe { (*info).preferred_dialect = CLAP_NOTE_DIALECT_MIDI };
    }
    ok
}

/// `clap_plugin.process`: nice-plug's, with note events turned into MIDI on the way out when
/// notes go out as MIDI. Allocates nothing: the wrapping event list lives on the stack.
unsafe extern "C" fn shim_process(
    plugin: *const clap_plugin,
    process: *const clap_process,
) -> clap_process_status {
    if plugin.is_null() || process.is_null() {
        return CLAP_PROCESS_ERROR;
    }
    // SAFETY: the host passes our plugin.
    let shim = unsafe { Shim::from_plugin(plugin) };
    let Some(inner_process) = shim.inner().process else {
        return CLAP_PROCESS_ERROR;
    };
    // SAFETY: the host's process data, valid for this call.
    let host_out = unsafe { (*process).out_events };
    if host_out.is_null() || !shim.midi_this_activation.load(Ordering::Acquire) {
        // SAFETY: nice-plug's plugin with the host's data.
        return unsafe { inner_process(shim.inner, process) };
    }
    let as_midi = clap_output_events {
        ctx: host_out as *mut c_void,
        try_push: Some(push_as_midi),
    };
    // SAFETY: as above; the copy differs only in `out_events`, which lives until we return.
    let mut data = unsafe { *process };
    data.out_events = &as_midi;
    // SAFETY: nice-plug's plugin; every pointer in `data` is valid for this call.
    unsafe { inner_process(shim.inner, &data) }
}

/// `clap_output_events.try_push` of the wrapping list: a CLAP note-on/off goes to the host's
/// list (`ctx`) as a `CLAP_EVENT_MIDI` note message at the same time; anything else as it is.
unsafe extern "C" fn push_as_midi(
    list: *const clap_output_events,
    event: *const clap_event_header,
) -> bool {
    if list.is_null() || event.is_null() {
        return false;
    }
    // SAFETY: `ctx` is the host's list, set by `shim_process` for this process call.
    let host = unsafe { (*list).ctx as *const clap_output_events };
    // SAFETY: as above.
    let Some(host_push) = (unsafe { (*host).try_push }) else {
        return false;
    };
    // SAFETY: nice-plug pushes valid events.
    let header = unsafe { &*event };
    let is_note = header.space_id == CLAP_CORE_EVENT_SPACE_ID
        && (header.type_ == CLAP_EVENT_NOTE_ON || header.type_ == CLAP_EVENT_NOTE_OFF)
        && header.size as usize >= std::mem::size_of::<clap_event_note>();
    if is_note {
        // SAFETY: the header says this is a `clap_event_note`.
        let note = unsafe { &*(event as *const clap_event_note) };
        let is_on = header.type_ == CLAP_EVENT_NOTE_ON;
        if let Some(data) = note_to_midi(is_on, note.channel, note.key, note.velocity) {
            let midi = clap_event_midi {
                header: clap_event_header {
                    size: std::mem::size_of::<clap_event_midi>() as u32,
                    time: header.time,
                    space_id: CLAP_CORE_EVENT_SPACE_ID,
                    type_: CLAP_EVENT_MIDI,
                    flags: header.flags,
                },
                port_index: u16::try_from(note.port_index).unwrap_or(0),
                data,
            };
            // SAFETY: the host's list, with a valid event that lives through the call.
            return unsafe { host_push(host, &midi.header) };
        }
    }
    // SAFETY: as above.
    unsafe { host_push(host, event) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_note_events_when_made_midi_then_they_are_0x9n_and_0x8n_with_7_bit_velocity() {
        assert_eq!(
            note_to_midi(true, 1, 60, 100.0 / 127.0),
            Some([0x91, 60, 100])
        );
        assert_eq!(note_to_midi(false, 15, 127, 0.0), Some([0x8f, 127, 0]));
        assert_eq!(
            note_to_midi(true, 0, 60, 0.0),
            Some([0x90, 60, 1]),
            "a note-on never has velocity 0"
        );
        assert_eq!(note_to_midi(true, -1, 60, 1.0), Some([0x90, 60, 127]));
        assert_eq!(note_to_midi(false, 0, -1, 0.0), None, "a wildcard key");
        assert_eq!(note_to_midi(true, 0, 128, 0.5), None);
    }

    #[test]
    fn given_host_names_when_checked_then_only_carla_takes_only_midi() {
        assert!(host_takes_only_midi("Carla"));
        assert!(host_takes_only_midi("Carla-Rack"));
        assert!(!host_takes_only_midi("Bitwig Studio"));
        assert!(!host_takes_only_midi("REAPER"));
    }
}
