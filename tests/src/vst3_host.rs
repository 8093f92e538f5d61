//! A minimal VST3 host for tests: load a `.vst3` module, create its audio module class, and
//! drive `IComponent`, `IAudioProcessor` and `IEditController` from one thread, with the host's
//! side (`IHostApplication`, `IComponentHandler`, event lists and parameter changes) written
//! with the `vst3` crate's COM helpers.
//!
//! # Lifecycle
//!
//! [`Vst3Plugin::load`] does what a host does when it inserts the plugin: `GetPluginFactory`,
//! find the first class of category `Audio Module Class`, `createInstance(IComponent)`,
//! `initialize(host application)`, get the edit controller (the same object when the plugin
//! is a single component, as nice-plug's are), `setComponentHandler`, read the buses and set
//! the main output to stereo. [`Vst3Plugin::activate`] then runs `setupProcessing`,
//! `setActive(true)` and `setProcessing(true)`; [`Vst3Plugin::deactivate`] undoes them. A
//! reset is `setProcessing(false)` then `setProcessing(true)` (VST3 has no reset call; hosts
//! do this, and nice-plug resets the plugin in `setProcessing(true)`).
//!
//! # Modules
//!
//! A module ([`Vst3Module`]) is loaded once per process and never unloaded: `ModuleEntry` is
//! called on the first load and `ModuleExit` never, as the library keeps process-wide state
//! (ONNX Runtime's environment) that must outlive every instance.
//!
//! # Events
//!
//! Notes go in as `kNoteOnEvent`/`kNoteOffEvent` on event bus 0; MIDI CCs go in as changes of
//! the hidden per-channel CC parameters the plugin lists (`MIDI Ch. N CC M`), which is how
//! VST3 carries controllers. What the plugin adds to the output event list is kept in order;
//! note events are normalised to [`OutEvent`]s (a note-on with velocity 0 counts as a note-off,
//! as in MIDI), `kLegacyMIDICCOutEvent`s are kept as MIDI bytes.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use vst3::Steinberg::Vst::BusDirections_::{kInput, kOutput};
use vst3::Steinberg::Vst::Event_::EventTypes_::{
    kLegacyMIDICCOutEvent, kNoteOffEvent, kNoteOnEvent,
};
use vst3::Steinberg::Vst::MediaTypes_::{kAudio, kEvent};
use vst3::Steinberg::Vst::ParameterInfo_::ParameterFlags_::kIsBypass;
use vst3::Steinberg::Vst::ProcessContext_::StatesAndFlags_::{
    kBarPositionValid, kCycleActive, kCycleValid, kPlaying, kProjectTimeMusicValid, kTempoValid,
    kTimeSigValid,
};
use vst3::Steinberg::Vst::ProcessModes_::{kOffline, kRealtime};
use vst3::Steinberg::Vst::SpeakerArr::kStereo;
use vst3::Steinberg::Vst::SymbolicSampleSizes_::kSample32;
use vst3::Steinberg::Vst::{
    AudioBusBuffers, AudioBusBuffers__type0, BusInfo, Event, Event__type0, IAudioProcessor,
    IAudioProcessorTrait, IComponent, IComponentHandler, IComponentHandlerTrait, IComponentTrait,
    IEditController, IEditControllerTrait, IEventList, IEventListTrait, IHostApplication,
    IHostApplicationTrait, IParamValueQueue, IParamValueQueueTrait, IParameterChanges,
    IParameterChangesTrait, NoteOffEvent, NoteOnEvent, ParamID, ParamValue, ParameterInfo,
    ProcessContext, ProcessData, ProcessSetup, SpeakerArrangement, String128, TChar,
};
use vst3::Steinberg::{
    FIDString, FUnknown, IPluginBaseTrait, IPluginFactory, IPluginFactoryTrait, PClassInfo, TUID,
    int32, kInvalidArgument, kResultFalse, kResultOk, tresult,
};
use vst3::{Class, ComPtr, ComWrapper, Interface};

use crate::events::{OutEvent, OutKind, WILDCARD_CHANNEL, WILDCARD_KEY};
use crate::host::{HostError, HostResult};

/// Builds an `Err(HostError)` from a format string.
macro_rules! host_err {
    ($($arg:tt)*) => { Err(HostError(format!($($arg)*))) };
}

/// The category of the classes a host instantiates as plugins.
pub const AUDIO_MODULE_CATEGORY: &str = "Audio Module Class";

/// Room in the output event list before a block (the list grows past it if it must).
const OUTPUT_EVENT_CAPACITY: usize = 4096;

/// A `tresult` as a `HostResult`: `kResultOk` is `Ok`, anything else names `what`.
fn check(result: tresult, what: &str) -> HostResult<()> {
    if result == kResultOk {
        Ok(())
    } else {
        host_err!("{what} returned {result}")
    }
}

/// A NUL-terminated UTF-16 string from VST3 (`String128`).
pub fn utf16_string(chars: &[TChar]) -> String {
    let end = chars.iter().position(|&c| c == 0).unwrap_or(chars.len());
    String::from_utf16_lossy(&chars[..end])
}

/// A NUL-terminated 8-bit string from VST3 (`PClassInfo` names).
fn c_chars(chars: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The module.

/// A loaded VST3 module: the open library and its plugin factory.
pub struct Vst3Module {
    /// The library's path (the shared library inside the bundle).
    path: PathBuf,
    /// The plugin factory `GetPluginFactory` returned (one reference, released never: the
    /// module stays loaded).
    factory: ComPtr<IPluginFactory>,
    /// Keeps the library mapped; never dropped while the process runs (see the module docs).
    _library: libloading::Library,
}

/// A class the factory offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassInfo {
    /// The class id.
    pub cid: TUID,
    /// The category, e.g. [`AUDIO_MODULE_CATEGORY`].
    pub category: String,
    /// The class name.
    pub name: String,
}

/// Every module this process has loaded (they stay loaded).
static MODULES: Mutex<Vec<Arc<Vst3Module>>> = Mutex::new(Vec::new());

// SAFETY: the factory is thread-safe by the VST3 spec; the library handle is only kept.
unsafe impl Send for Vst3Module {}
// SAFETY: as above.
unsafe impl Sync for Vst3Module {}

impl Vst3Module {
    /// Opens the module's shared library `library_path` (e.g. from
    /// [`crate::bundle::vst3_binary`]), calls `ModuleEntry` and `GetPluginFactory`; or returns
    /// the module this process already loaded from that path.
    pub fn load(library_path: &Path) -> HostResult<Arc<Self>> {
        let path = library_path
            .canonicalize()
            .map_err(|e| HostError(format!("cannot resolve {}: {e}", library_path.display())))?;
        let mut modules = MODULES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(module) = modules.iter().find(|m| m.path == path) {
            return Ok(module.clone());
        }
        // SAFETY: loading a VST3 module runs its initialisers; that is what this host is for.
        let library = unsafe { libloading::Library::new(&path) }
            .map_err(|e| HostError(format!("cannot load {}: {e}", path.display())))?;
        // SAFETY: `ModuleEntry` has this signature on Linux by the VST3 module ABI.
        let entry =
            unsafe { library.get::<unsafe extern "C" fn(*mut c_void) -> bool>(c"ModuleEntry") }
                .map_err(|e| HostError(format!("{} has no ModuleEntry: {e}", path.display())))?;
        // SAFETY: called once, before anything else in the module.
        if !unsafe { entry(std::ptr::null_mut()) } {
            return host_err!("{}: ModuleEntry returned false", path.display());
        }
        // SAFETY: `GetPluginFactory` has this signature by the VST3 module ABI.
        let get_factory = unsafe {
            library.get::<unsafe extern "system" fn() -> *mut IPluginFactory>(c"GetPluginFactory")
        }
        .map_err(|e| HostError(format!("{} has no GetPluginFactory: {e}", path.display())))?;
        // SAFETY: returns one reference to the factory, which the ComPtr owns.
        let factory = unsafe { ComPtr::from_raw(get_factory()) }
            .ok_or_else(|| HostError(format!("{}: GetPluginFactory is null", path.display())))?;
        let module = Arc::new(Self {
            path,
            factory,
            _library: library,
        });
        modules.push(module.clone());
        Ok(module)
    }

    /// The library's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every class the factory offers.
    pub fn classes(&self) -> Vec<ClassInfo> {
        let mut out = Vec::new();
        // SAFETY: a live factory; indices below its count; `info` is written by the call.
        unsafe {
            for i in 0..self.factory.countClasses() {
                let mut info: PClassInfo = std::mem::zeroed();
                if self.factory.getClassInfo(i, &mut info) == kResultOk {
                    out.push(ClassInfo {
                        cid: info.cid,
                        category: c_chars(&info.category),
                        name: c_chars(&info.name),
                    });
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The host's COM objects.

/// The host's `IHostApplication`: a name, and no objects to create.
struct HostApplication;

impl Class for HostApplication {
    type Interfaces = (IHostApplication,);
}

/// The name the host gives.
pub const HOST_NAME: &str = "antiphon-tests";

impl IHostApplicationTrait for HostApplication {
    unsafe fn getName(&self, name: *mut String128) -> tresult {
        if name.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: the plugin passes a writable String128.
        let name = unsafe { &mut *name };
        name.fill(0);
        for (slot, unit) in name.iter_mut().zip(HOST_NAME.encode_utf16()) {
            *slot = unit;
        }
        kResultOk
    }

    unsafe fn createInstance(
        &self,
        _cid: *mut TUID,
        _iid: *mut TUID,
        obj: *mut *mut c_void,
    ) -> tresult {
        if !obj.is_null() {
            // SAFETY: the plugin passes a writable pointer.
            unsafe { *obj = std::ptr::null_mut() };
        }
        kResultFalse
    }
}

/// How often the plugin called the host's `IComponentHandler`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandlerCounts {
    /// `beginEdit`.
    pub begin_edit: u32,
    /// `performEdit`.
    pub perform_edit: u32,
    /// `endEdit`.
    pub end_edit: u32,
    /// `restartComponent`.
    pub restart_component: u32,
}

/// The host's `IComponentHandler`: counts what the plugin tells it.
#[derive(Default)]
struct ComponentHandler {
    /// The counts so far.
    counts: Cell<HandlerCounts>,
}

impl Class for ComponentHandler {
    type Interfaces = (IComponentHandler,);
}

impl ComponentHandler {
    /// Adds one to the count `field` picks.
    fn bump(&self, field: impl FnOnce(&mut HandlerCounts) -> &mut u32) {
        let mut counts = self.counts.get();
        *field(&mut counts) += 1;
        self.counts.set(counts);
    }
}

impl IComponentHandlerTrait for ComponentHandler {
    unsafe fn beginEdit(&self, _id: ParamID) -> tresult {
        self.bump(|c| &mut c.begin_edit);
        kResultOk
    }

    unsafe fn performEdit(&self, _id: ParamID, _value: ParamValue) -> tresult {
        self.bump(|c| &mut c.perform_edit);
        kResultOk
    }

    unsafe fn endEdit(&self, _id: ParamID) -> tresult {
        self.bump(|c| &mut c.end_edit);
        kResultOk
    }

    unsafe fn restartComponent(&self, _flags: int32) -> tresult {
        self.bump(|c| &mut c.restart_component);
        kResultOk
    }
}

/// An `IEventList`: the host fills it for the plugin to read, or the plugin adds to it.
struct EventList {
    /// The events, in the order they were added.
    events: RefCell<Vec<Event>>,
}

impl Class for EventList {
    type Interfaces = (IEventList,);
}

impl EventList {
    /// An empty list with room for `capacity` events.
    fn with_capacity(capacity: usize) -> Self {
        Self {
            events: RefCell::new(Vec::with_capacity(capacity)),
        }
    }
}

impl IEventListTrait for EventList {
    unsafe fn getEventCount(&self) -> int32 {
        self.events.borrow().len() as int32
    }

    unsafe fn getEvent(&self, index: int32, e: *mut Event) -> tresult {
        let events = self.events.borrow();
        match (
            usize::try_from(index).ok().and_then(|i| events.get(i)),
            e.is_null(),
        ) {
            (Some(event), false) => {
                // SAFETY: the plugin passes a writable event.
                unsafe { *e = *event };
                kResultOk
            }
            _ => kInvalidArgument,
        }
    }

    unsafe fn addEvent(&self, e: *mut Event) -> tresult {
        if e.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: the plugin passes a valid event.
        self.events.borrow_mut().push(unsafe { *e });
        kResultOk
    }
}

/// One parameter's changes within a block: `IParamValueQueue`.
struct ParamQueue {
    /// The parameter.
    id: ParamID,
    /// (sample offset, normalized value), in offset order.
    points: RefCell<Vec<(int32, ParamValue)>>,
}

impl Class for ParamQueue {
    type Interfaces = (IParamValueQueue,);
}

impl IParamValueQueueTrait for ParamQueue {
    unsafe fn getParameterId(&self) -> ParamID {
        self.id
    }

    unsafe fn getPointCount(&self) -> int32 {
        self.points.borrow().len() as int32
    }

    unsafe fn getPoint(
        &self,
        index: int32,
        sample_offset: *mut int32,
        value: *mut ParamValue,
    ) -> tresult {
        let points = self.points.borrow();
        let point = usize::try_from(index).ok().and_then(|i| points.get(i));
        match point {
            Some(&(offset, v)) if !sample_offset.is_null() && !value.is_null() => {
                // SAFETY: the plugin passes writable pointers.
                unsafe {
                    *sample_offset = offset;
                    *value = v;
                }
                kResultOk
            }
            _ => kInvalidArgument,
        }
    }

    unsafe fn addPoint(
        &self,
        sample_offset: int32,
        value: ParamValue,
        index: *mut int32,
    ) -> tresult {
        let mut points = self.points.borrow_mut();
        let at = points.partition_point(|&(o, _)| o <= sample_offset);
        points.insert(at, (sample_offset, value));
        if !index.is_null() {
            // SAFETY: the plugin passes a writable pointer.
            unsafe { *index = at as int32 };
        }
        kResultOk
    }
}

/// A block's parameter changes: `IParameterChanges`, one queue per parameter.
#[derive(Default)]
struct ParameterChanges {
    /// The queues, in the order their parameters first changed.
    queues: RefCell<Vec<ComWrapper<ParamQueue>>>,
}

impl Class for ParameterChanges {
    type Interfaces = (IParameterChanges,);
}

impl ParameterChanges {
    /// Replaces the changes with `points` (parameter, sample offset, normalized value).
    fn set(&self, points: &[ParamPoint]) {
        let mut queues = self.queues.borrow_mut();
        queues.clear();
        for p in points {
            let queue = match queues.iter().find(|q| q.id == p.id) {
                Some(q) => q.clone(),
                None => {
                    let q = ComWrapper::new(ParamQueue {
                        id: p.id,
                        points: RefCell::new(Vec::new()),
                    });
                    queues.push(q.clone());
                    q
                }
            };
            // SAFETY: our own queue; no index wanted.
            unsafe { queue.addPoint(p.offset_samples as int32, p.value, std::ptr::null_mut()) };
        }
    }

    /// Every point of every queue, as (parameter, offset, value).
    fn points(&self) -> Vec<ParamPoint> {
        let queues = self.queues.borrow();
        queues
            .iter()
            .flat_map(|q| {
                q.points
                    .borrow()
                    .iter()
                    .map(|&(offset, value)| ParamPoint {
                        id: q.id,
                        offset_samples: offset.max(0) as u32,
                        value,
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl IParameterChangesTrait for ParameterChanges {
    unsafe fn getParameterCount(&self) -> int32 {
        self.queues.borrow().len() as int32
    }

    unsafe fn getParameterData(&self, index: int32) -> *mut IParamValueQueue {
        let queues = self.queues.borrow();
        usize::try_from(index)
            .ok()
            .and_then(|i| queues.get(i))
            .and_then(|q| q.as_com_ref::<IParamValueQueue>())
            .map_or(std::ptr::null_mut(), |r| r.as_ptr())
    }

    unsafe fn addParameterData(
        &self,
        id: *const ParamID,
        index: *mut int32,
    ) -> *mut IParamValueQueue {
        if id.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: the plugin passes a readable id.
        let id = unsafe { *id };
        let mut queues = self.queues.borrow_mut();
        let at = match queues.iter().position(|q| q.id == id) {
            Some(at) => at,
            None => {
                queues.push(ComWrapper::new(ParamQueue {
                    id,
                    points: RefCell::new(Vec::new()),
                }));
                queues.len() - 1
            }
        };
        if !index.is_null() {
            // SAFETY: the plugin passes a writable pointer.
            unsafe { *index = at as int32 };
        }
        queues[at]
            .as_com_ref::<IParamValueQueue>()
            .map_or(std::ptr::null_mut(), |r| r.as_ptr())
    }
}

// ---------------------------------------------------------------------------------------------
// What a test passes in and gets back.

/// A parameter change inside a block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamPoint {
    /// The parameter's id.
    pub id: ParamID,
    /// Sample offset inside the block.
    pub offset_samples: u32,
    /// The normalized value, 0..=1.
    pub value: f64,
}

/// An event the host sends into the plugin within a block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vst3InputEvent {
    /// Sample offset inside the block.
    pub offset_samples: u32,
    /// What happens there.
    pub kind: Vst3InputKind,
}

/// The kinds of input events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Vst3InputKind {
    /// `kNoteOnEvent` (velocity 0..=1; 0 is sent as it is).
    NoteOn {
        /// MIDI channel, 0..=15.
        channel: u8,
        /// MIDI key.
        key: u8,
        /// Velocity, 0..=1.
        velocity: f32,
    },
    /// `kNoteOffEvent`.
    NoteOff {
        /// MIDI channel, 0..=15.
        channel: u8,
        /// MIDI key.
        key: u8,
    },
    /// A MIDI control change, sent as a change of the plugin's CC parameter for `channel`
    /// and `cc` to `value / 127`.
    Cc {
        /// MIDI channel, 0..=15.
        channel: u8,
        /// Controller, 0..=127.
        cc: u8,
        /// Value, 0..=127.
        value: u8,
    },
}

/// The note inputs of `inputs` (at session samples) that fall in the block `start..end`, as
/// VST3 events at their offsets in it. Panics on an input that is not a note.
pub fn vst3_notes_in_block(
    inputs: &[crate::jam::SentInput],
    start: u64,
    end: u64,
) -> Vec<Vst3InputEvent> {
    use crate::events::InputKind;
    inputs
        .iter()
        .filter(|i| (start..end).contains(&i.sample))
        .map(|i| Vst3InputEvent {
            offset_samples: (i.sample - start) as u32,
            kind: match i.kind {
                InputKind::NoteOn {
                    channel,
                    key,
                    velocity,
                } => Vst3InputKind::NoteOn {
                    channel,
                    key,
                    velocity,
                },
                InputKind::NoteOff { channel, key, .. } => Vst3InputKind::NoteOff { channel, key },
                other => panic!("not a note, for this VST3 host: {other:?}"),
            },
        })
        .collect()
}

/// The transport of one block as a VST3 host reports it in `ProcessContext`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vst3Transport {
    /// `kPlaying`.
    pub playing: bool,
    /// `tempo` with `kTempoValid`.
    pub tempo_bpm: Option<f64>,
    /// `projectTimeMusic` (quarter notes) with `kProjectTimeMusicValid`.
    pub position_beats: Option<f64>,
    /// `barPositionMusic` with `kBarPositionValid`.
    pub bar_start_beats: Option<f64>,
    /// `timeSigNumerator`/`timeSigDenominator` with `kTimeSigValid`.
    pub time_sig: Option<(i32, i32)>,
    /// `cycleStartMusic`/`cycleEndMusic` with `kCycleActive | kCycleValid`.
    pub cycle_beats: Option<(f64, f64)>,
    /// `projectTimeSamples` (always valid in VST3).
    pub project_time_samples: i64,
}

impl Vst3Transport {
    /// A transport in 4/4 at `tempo_bpm`, `position_beats` at the block's first sample (session
    /// sample `project_time_samples`), playing or stopped there, without a cycle.
    pub fn in_4_4(
        playing: bool,
        tempo_bpm: f64,
        position_beats: f64,
        project_time_samples: i64,
    ) -> Self {
        Self {
            playing,
            tempo_bpm: Some(tempo_bpm),
            position_beats: Some(position_beats),
            bar_start_beats: Some((position_beats / 4.0).floor() * 4.0),
            time_sig: Some((4, 4)),
            cycle_beats: None,
            project_time_samples,
        }
    }

    /// The `ProcessContext` for this transport at `sample_rate_hz`.
    pub fn to_context(&self, sample_rate_hz: f64) -> ProcessContext {
        // SAFETY: ProcessContext is plain numbers; all zero is a valid value.
        let mut c: ProcessContext = unsafe { std::mem::zeroed() };
        c.sampleRate = sample_rate_hz;
        c.projectTimeSamples = self.project_time_samples;
        let mut state = 0u32;
        if self.playing {
            state |= kPlaying;
        }
        if let Some(t) = self.tempo_bpm {
            state |= kTempoValid;
            c.tempo = t;
        }
        if let Some(p) = self.position_beats {
            state |= kProjectTimeMusicValid;
            c.projectTimeMusic = p;
        }
        if let Some(b) = self.bar_start_beats {
            state |= kBarPositionValid;
            c.barPositionMusic = b;
        }
        if let Some((n, d)) = self.time_sig {
            state |= kTimeSigValid;
            c.timeSigNumerator = n;
            c.timeSigDenominator = d;
        }
        if let Some((s, e)) = self.cycle_beats {
            state |= kCycleActive | kCycleValid;
            c.cycleStartMusic = s;
            c.cycleEndMusic = e;
        }
        c.state = state;
        c
    }
}

/// What one `process` call gave back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vst3BlockOutput {
    /// What `process` returned (`kResultOk`, or an error code).
    pub result: tresult,
    /// Samples processed since activation before this block.
    pub block_start_sample: u64,
    /// Note events, normalised, in the order the plugin added them (`sample` counts from the
    /// activation).
    pub notes: Vec<OutEvent>,
    /// `kLegacyMIDICCOutEvent`s as MIDI bytes (`0xBn`, controller number, value; controller
    /// 128 is channel pressure, 129 pitch bend), with their absolute sample.
    pub midi_out: Vec<(u64, [u8; 3])>,
    /// Events of other types.
    pub other_events: usize,
    /// Events whose offset lay outside the block.
    pub out_of_block_events: usize,
    /// The largest absolute sample on the output bus.
    pub output_peak: f32,
}

/// A parameter as the edit controller describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Vst3ParamInfo {
    /// Its id.
    pub id: ParamID,
    /// Its title.
    pub title: String,
    /// Steps (0: continuous).
    pub step_count: i32,
    /// Default normalized value.
    pub default_normalized: f64,
    /// `ParameterFlags` bits.
    pub flags: i32,
}

impl Vst3ParamInfo {
    /// Whether the host treats it as the plugin's bypass (`kIsBypass`).
    pub fn is_bypass(&self) -> bool {
        self.flags & kIsBypass != 0
    }
}

/// A bus as `IComponent::getBusInfo` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vst3BusInfo {
    /// Audio or event bus.
    pub is_event: bool,
    /// Input or output.
    pub is_input: bool,
    /// Channels.
    pub channel_count: i32,
    /// Name.
    pub name: String,
    /// `busType` (0 main, 1 aux).
    pub bus_type: i32,
    /// `BusFlags`.
    pub flags: u32,
}

/// Where the plugin is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vst3State {
    /// Initialized, not active.
    Inactive,
    /// `setActive(true)`.
    Active,
    /// `setProcessing(true)` too.
    Processing,
}

/// The processing setup of the current activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vst3Setup {
    /// Sample rate in Hz.
    pub sample_rate_hz: f64,
    /// Longest block, in samples.
    pub max_block_samples: u32,
    /// `kOffline` instead of `kRealtime`.
    pub offline: bool,
}

// ---------------------------------------------------------------------------------------------
// The plugin.

/// One plugin instance with its host objects. Not `Send`: one thread plays the host's UI and
/// audio threads.
pub struct Vst3Plugin {
    /// `IAudioProcessor`.
    processor: ComPtr<IAudioProcessor>,
    /// `IEditController` (the component itself for a single-component plugin).
    controller: ComPtr<IEditController>,
    /// `IComponent`; terminated on drop.
    component: ComPtr<IComponent>,
    /// The host application given to `initialize`.
    _host: ComWrapper<HostApplication>,
    /// The component handler given to the controller.
    handler: ComWrapper<ComponentHandler>,
    /// Input events of the next block.
    input_events: ComWrapper<EventList>,
    /// What the plugin adds during a block.
    output_events: ComWrapper<EventList>,
    /// Parameter changes of the next block.
    input_changes: ComWrapper<ParameterChanges>,
    /// Parameter changes the plugin reports.
    output_changes: ComWrapper<ParameterChanges>,
    /// Parameters, in the controller's order.
    params: Vec<Vst3ParamInfo>,
    /// Parameter ids by title.
    param_ids: HashMap<String, ParamID>,
    /// Where the plugin is in its lifecycle.
    state: Vst3State,
    /// The setup of the current activation.
    setup: Option<Vst3Setup>,
    /// Output channels of the main output bus (each `max_block_samples` long).
    output_channels: Vec<Vec<f32>>,
    /// Samples processed since the last activation.
    samples_processed: u64,
    /// Keeps the module loaded (it is never unloaded anyway).
    _module: Arc<Vst3Module>,
}

impl Vst3Plugin {
    /// Loads the module at `library_path` and creates its first audio module class (see the
    /// module docs).
    pub fn load(library_path: &Path) -> HostResult<Self> {
        let module = Vst3Module::load(library_path)?;
        let Some(class) = module
            .classes()
            .into_iter()
            .find(|c| c.category == AUDIO_MODULE_CATEGORY)
        else {
            return host_err!(
                "{} offers no {AUDIO_MODULE_CATEGORY}",
                library_path.display()
            );
        };
        Self::create(module, &class)
    }

    /// Creates `class` from `module` and initializes it with a fresh host.
    pub fn create(module: Arc<Vst3Module>, class: &ClassInfo) -> HostResult<Self> {
        let mut obj: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid factory, class id and interface id; `obj` receives one reference.
        let result = unsafe {
            module.factory.createInstance(
                class.cid.as_ptr() as FIDString,
                IComponent::IID.as_ptr() as FIDString,
                &mut obj,
            )
        };
        check(result, "createInstance(IComponent)")?;
        // SAFETY: `obj` is an IComponent with one reference we now own.
        let component = unsafe { ComPtr::from_raw(obj as *mut IComponent) }
            .ok_or_else(|| HostError("createInstance gave a null IComponent".into()))?;
        let host = ComWrapper::new(HostApplication);
        let host_unknown = host
            .as_com_ref::<IHostApplication>()
            .map(|r| r.as_ptr() as *mut FUnknown)
            .ok_or_else(|| HostError("the host application has no IHostApplication".into()))?;
        // SAFETY: a fresh component; the host object outlives it.
        check(unsafe { component.initialize(host_unknown) }, "initialize")?;
        let processor = component
            .cast::<IAudioProcessor>()
            .ok_or_else(|| HostError("the component is no IAudioProcessor".into()))?;
        let Some(controller) = component.cast::<IEditController>() else {
            // SAFETY: initialized above.
            unsafe { component.terminate() };
            return host_err!(
                "the component has no IEditController of its own (a separate controller class \
                 is not supported by this host)"
            );
        };
        let handler = ComWrapper::new(ComponentHandler::default());
        let handler_ptr = handler
            .as_com_ref::<IComponentHandler>()
            .map_or(std::ptr::null_mut(), |r| r.as_ptr());
        // SAFETY: a live controller; it keeps its own reference to the handler.
        check(
            unsafe { controller.setComponentHandler(handler_ptr) },
            "setComponentHandler",
        )?;
        let mut plugin = Self {
            processor,
            controller,
            component,
            _host: host,
            handler,
            input_events: ComWrapper::new(EventList::with_capacity(1024)),
            output_events: ComWrapper::new(EventList::with_capacity(OUTPUT_EVENT_CAPACITY)),
            input_changes: ComWrapper::new(ParameterChanges::default()),
            output_changes: ComWrapper::new(ParameterChanges::default()),
            params: Vec::new(),
            param_ids: HashMap::new(),
            state: Vst3State::Inactive,
            setup: None,
            output_channels: Vec::new(),
            samples_processed: 0,
            _module: module,
        };
        plugin.read_params();
        plugin.arrange_buses()?;
        Ok(plugin)
    }

    /// Reads the parameter list from the controller.
    fn read_params(&mut self) {
        // SAFETY: a live controller; `info` is written by the call.
        unsafe {
            for i in 0..self.controller.getParameterCount() {
                let mut info: ParameterInfo = std::mem::zeroed();
                if self.controller.getParameterInfo(i, &mut info) == kResultOk {
                    let title = utf16_string(&info.title);
                    self.param_ids.insert(title.clone(), info.id);
                    self.params.push(Vst3ParamInfo {
                        id: info.id,
                        title,
                        step_count: info.stepCount,
                        default_normalized: info.defaultNormalizedValue,
                        flags: info.flags,
                    });
                }
            }
        }
    }

    /// Sets the main output to stereo (no audio input) and activates every bus.
    fn arrange_buses(&mut self) -> HostResult<()> {
        let outputs = self.buses(false, false);
        let mut arrangement: Vec<SpeakerArrangement> = outputs.iter().map(|_| kStereo).collect();
        // No inputs, but a valid pointer: plugins (nice-plug's among them) refuse null.
        let mut no_inputs: [SpeakerArrangement; 1] = [0];
        // SAFETY: a live processor; the arrays live until the call returns.
        let result = unsafe {
            self.processor.setBusArrangements(
                no_inputs.as_mut_ptr(),
                0,
                arrangement.as_mut_ptr(),
                arrangement.len() as int32,
            )
        };
        check(result, "setBusArrangements(no input, stereo output)")?;
        for is_event in [false, true] {
            for is_input in [true, false] {
                for i in 0..self.buses(is_event, is_input).len() {
                    let (media, dir) = Self::bus_kind(is_event, is_input);
                    // SAFETY: a live component; the bus exists.
                    let result = unsafe { self.component.activateBus(media, dir, i as int32, 1) };
                    check(result, "activateBus")?;
                }
            }
        }
        Ok(())
    }

    /// VST3's media type and direction for a bus kind.
    fn bus_kind(is_event: bool, is_input: bool) -> (int32, int32) {
        let media = if is_event { kEvent } else { kAudio };
        let dir = if is_input { kInput } else { kOutput };
        (media as int32, dir as int32)
    }

    /// The buses of one kind.
    pub fn buses(&self, is_event: bool, is_input: bool) -> Vec<Vst3BusInfo> {
        let (media, dir) = Self::bus_kind(is_event, is_input);
        let mut out = Vec::new();
        // SAFETY: a live component; `info` is written by the call.
        unsafe {
            for i in 0..self.component.getBusCount(media, dir) {
                let mut info: BusInfo = std::mem::zeroed();
                if self.component.getBusInfo(media, dir, i, &mut info) == kResultOk {
                    out.push(Vst3BusInfo {
                        is_event,
                        is_input,
                        channel_count: info.channelCount,
                        name: utf16_string(&info.name),
                        bus_type: info.busType,
                        flags: info.flags,
                    });
                }
            }
        }
        out
    }

    /// The parameters, in the controller's order (nice-plug's MIDI CC parameters included).
    pub fn params(&self) -> &[Vst3ParamInfo] {
        &self.params
    }

    /// The id of the parameter titled `title`.
    pub fn param_id(&self, title: &str) -> HostResult<ParamID> {
        self.param_ids
            .get(title)
            .copied()
            .ok_or_else(|| HostError(format!("no parameter titled {title:?}")))
    }

    /// The parameter flagged `kIsBypass`, if any.
    pub fn bypass_param(&self) -> Option<&Vst3ParamInfo> {
        self.params.iter().find(|p| p.is_bypass())
    }

    /// The id of the parameter that carries MIDI CC `cc` on `channel` (nice-plug titles them
    /// `MIDI Ch. {channel + 1} CC {cc}`).
    pub fn midi_cc_param(&self, channel: u8, cc: u8) -> HostResult<ParamID> {
        self.param_id(&format!("MIDI Ch. {} CC {cc}", channel + 1))
    }

    /// The controller's current normalized value of `id`.
    pub fn param_normalized(&self, id: ParamID) -> f64 {
        // SAFETY: a live controller.
        unsafe { self.controller.getParamNormalized(id) }
    }

    /// The plain value of normalized `value` for `id` (`normalizedParamToPlain`).
    pub fn normalized_to_plain(&self, id: ParamID, value: f64) -> f64 {
        // SAFETY: a live controller.
        unsafe { self.controller.normalizedParamToPlain(id, value) }
    }

    /// The normalized value of plain `value` for `id` (`plainParamToNormalized`).
    pub fn plain_to_normalized(&self, id: ParamID, value: f64) -> f64 {
        // SAFETY: a live controller.
        unsafe { self.controller.plainParamToNormalized(id, value) }
    }

    /// The text the plugin shows for normalized `value` of `id`.
    pub fn value_text(&self, id: ParamID, value: f64) -> HostResult<String> {
        let mut text: String128 = [0; 128];
        // SAFETY: a live controller and a writable string.
        check(
            unsafe { self.controller.getParamStringByValue(id, value, &mut text) },
            "getParamStringByValue",
        )?;
        Ok(utf16_string(&text))
    }

    /// What the plugin told the component handler so far.
    pub fn handler_counts(&self) -> HandlerCounts {
        self.handler.counts.get()
    }

    /// Where the plugin is in its lifecycle.
    pub fn state(&self) -> Vst3State {
        self.state
    }

    /// The setup of the current (or last) activation.
    pub fn setup(&self) -> Option<Vst3Setup> {
        self.setup
    }

    /// Samples processed since the last activation.
    pub fn samples_processed(&self) -> u64 {
        self.samples_processed
    }

    /// `setupProcessing` alone (the plugin must be inactive). [`Self::activate`] calls it;
    /// a host may call it more often, e.g. to switch to offline rendering.
    pub fn setup_processing(&mut self, setup: Vst3Setup) -> HostResult<()> {
        if self.state != Vst3State::Inactive {
            return host_err!("setupProcessing while {:?}", self.state);
        }
        if setup.max_block_samples == 0 {
            return host_err!("a longest block of 0 samples");
        }
        let mut process_setup = ProcessSetup {
            processMode: if setup.offline { kOffline } else { kRealtime } as int32,
            symbolicSampleSize: kSample32 as int32,
            maxSamplesPerBlock: setup.max_block_samples as int32,
            sampleRate: setup.sample_rate_hz,
        };
        // SAFETY: a live processor; the setup lives until the call returns.
        check(
            unsafe { self.processor.setupProcessing(&mut process_setup) },
            "setupProcessing",
        )
    }

    /// `setupProcessing`, `setActive(true)`, `setProcessing(true)`.
    pub fn activate(&mut self, setup: Vst3Setup) -> HostResult<()> {
        self.setup_processing(setup)?;
        // SAFETY: a live component.
        check(unsafe { self.component.setActive(1) }, "setActive(true)")?;
        self.state = Vst3State::Active;
        self.setup = Some(setup);
        let channels = self
            .buses(false, false)
            .first()
            .map_or(0, |b| b.channel_count.max(0) as usize);
        self.output_channels = vec![vec![0.0; setup.max_block_samples as usize]; channels];
        self.samples_processed = 0;
        self.start_processing()
    }

    /// `setProcessing(true)`.
    pub fn start_processing(&mut self) -> HostResult<()> {
        if self.state != Vst3State::Active {
            return host_err!("setProcessing(true) while {:?}", self.state);
        }
        // SAFETY: a live, active processor.
        check(
            unsafe { self.processor.setProcessing(1) },
            "setProcessing(true)",
        )?;
        self.state = Vst3State::Processing;
        Ok(())
    }

    /// `setProcessing(false)`.
    pub fn stop_processing(&mut self) -> HostResult<()> {
        if self.state != Vst3State::Processing {
            return host_err!("setProcessing(false) while {:?}", self.state);
        }
        // SAFETY: a live, processing processor.
        let result = unsafe { self.processor.setProcessing(0) };
        self.state = Vst3State::Active;
        check(result, "setProcessing(false)")
    }

    /// What a host does instead of a reset: `setProcessing(false)`, `setProcessing(true)`.
    pub fn reset(&mut self) -> HostResult<()> {
        self.stop_processing()?;
        self.start_processing()
    }

    /// `setProcessing(false)` (when processing) and `setActive(false)`.
    pub fn deactivate(&mut self) -> HostResult<()> {
        if self.state == Vst3State::Processing {
            self.stop_processing()?;
        }
        if self.state != Vst3State::Active {
            return host_err!("setActive(false) while {:?}", self.state);
        }
        // SAFETY: a live, active component.
        let result = unsafe { self.component.setActive(0) };
        self.state = Vst3State::Inactive;
        check(result, "setActive(false)")
    }

    /// Processes one block of `frames` samples with `events` (their offsets below `frames`,
    /// in order), parameter changes `params` and `transport`; returns what the plugin added
    /// to the output event list.
    pub fn process(
        &mut self,
        frames: u32,
        events: &[Vst3InputEvent],
        params: &[ParamPoint],
        transport: &Vst3Transport,
    ) -> HostResult<Vst3BlockOutput> {
        let Some(setup) = self.setup.filter(|_| self.state == Vst3State::Processing) else {
            return host_err!("process while {:?}", self.state);
        };
        if frames == 0 || frames > setup.max_block_samples {
            return host_err!(
                "process of {frames} frames (max {})",
                setup.max_block_samples
            );
        }
        if let Some(bad) = events.iter().find(|e| e.offset_samples >= frames) {
            return host_err!(
                "event at offset {} in a block of {frames}",
                bad.offset_samples
            );
        }
        let mut points = params.to_vec();
        {
            let mut list = self.input_events.events.borrow_mut();
            list.clear();
            for e in events {
                match e.kind {
                    Vst3InputKind::NoteOn {
                        channel,
                        key,
                        velocity,
                    } => list.push(note_on_event(e.offset_samples, channel, key, velocity)),
                    Vst3InputKind::NoteOff { channel, key } => {
                        list.push(note_off_event(e.offset_samples, channel, key));
                    }
                    Vst3InputKind::Cc { channel, cc, value } => points.push(ParamPoint {
                        id: self.midi_cc_param(channel, cc)?,
                        offset_samples: e.offset_samples,
                        value: f64::from(value) / 127.0,
                    }),
                }
            }
        }
        self.input_changes.set(&points);
        self.output_changes.set(&[]);
        self.output_events.events.borrow_mut().clear();
        for channel in &mut self.output_channels {
            channel.fill(0.0);
        }
        let mut pointers: Vec<*mut f32> = self
            .output_channels
            .iter_mut()
            .map(|c| c.as_mut_ptr())
            .collect();
        let mut output_bus = AudioBusBuffers {
            numChannels: pointers.len() as int32,
            silenceFlags: 0,
            __field0: AudioBusBuffers__type0 {
                channelBuffers32: pointers.as_mut_ptr(),
            },
        };
        let mut context = transport.to_context(setup.sample_rate_hz);
        let mut data = ProcessData {
            processMode: if setup.offline { kOffline } else { kRealtime } as int32,
            symbolicSampleSize: kSample32 as int32,
            numSamples: frames as int32,
            numInputs: 0,
            numOutputs: i32::from(!pointers.is_empty()),
            inputs: std::ptr::null_mut(),
            outputs: if pointers.is_empty() {
                std::ptr::null_mut()
            } else {
                &mut output_bus
            },
            inputParameterChanges: com_ptr(self.input_changes.as_com_ref::<IParameterChanges>()),
            outputParameterChanges: com_ptr(self.output_changes.as_com_ref::<IParameterChanges>()),
            inputEvents: com_ptr(self.input_events.as_com_ref::<IEventList>()),
            outputEvents: com_ptr(self.output_events.as_com_ref::<IEventList>()),
            processContext: &mut context,
        };
        // SAFETY: a live, processing plugin; every pointer in `data` lives until it returns.
        let result = unsafe { self.processor.process(&mut data) };
        let block_start = self.samples_processed;
        self.samples_processed += u64::from(frames);

        let mut out = Vst3BlockOutput {
            result,
            block_start_sample: block_start,
            ..Vst3BlockOutput::default()
        };
        for e in self.output_events.events.borrow().iter() {
            let offset = e.sampleOffset;
            if offset < 0 || offset as u32 >= frames {
                out.out_of_block_events += 1;
            }
            let sample = block_start.saturating_add_signed(i64::from(offset));
            let kind = u32::from(e.r#type);
            if kind == kNoteOnEvent || kind == kNoteOffEvent {
                // SAFETY: the type says which union field the plugin wrote.
                let (is_on, channel, key, velocity) = unsafe {
                    if kind == kNoteOnEvent {
                        let n = e.__field0.noteOn;
                        (n.velocity > 0.0, n.channel, n.pitch, n.velocity)
                    } else {
                        let n = e.__field0.noteOff;
                        (false, n.channel, n.pitch, n.velocity)
                    }
                };
                out.notes.push(OutEvent {
                    sample,
                    kind: if is_on { OutKind::On } else { OutKind::Off },
                    channel: u8::try_from(channel).unwrap_or(WILDCARD_CHANNEL),
                    key: u8::try_from(key).unwrap_or(WILDCARD_KEY),
                    velocity,
                });
            } else if kind == kLegacyMIDICCOutEvent {
                // SAFETY: as above.
                let cc = unsafe { e.__field0.midiCCOut };
                let status = 0xb0 | (cc.channel as u8 & 0x0f);
                out.midi_out
                    .push((sample, [status, cc.controlNumber, cc.value as u8]));
            } else {
                out.other_events += 1;
            }
        }
        out.output_peak = self
            .output_channels
            .iter()
            .flat_map(|c| c[..frames as usize].iter())
            .fold(0.0f32, |peak, s| peak.max(s.abs()));
        Ok(out)
    }

    /// The parameter changes the plugin reported in the last block.
    pub fn output_param_changes(&self) -> Vec<ParamPoint> {
        self.output_changes.points()
    }
}

/// The raw pointer of an optional COM reference (null for none).
fn com_ptr<I: Interface>(r: Option<vst3::ComRef<'_, I>>) -> *mut I {
    r.map_or(std::ptr::null_mut(), |r| r.as_ptr())
}

/// A `kNoteOnEvent` on bus 0 (note id -1: none).
fn note_on_event(offset: u32, channel: u8, key: u8, velocity: f32) -> Event {
    Event {
        busIndex: 0,
        sampleOffset: offset as int32,
        ppqPosition: 0.0,
        flags: 0,
        r#type: kNoteOnEvent as u16,
        __field0: Event__type0 {
            noteOn: NoteOnEvent {
                channel: i16::from(channel),
                pitch: i16::from(key),
                tuning: 0.0,
                velocity,
                length: 0,
                noteId: -1,
            },
        },
    }
}

/// A `kNoteOffEvent` on bus 0.
fn note_off_event(offset: u32, channel: u8, key: u8) -> Event {
    Event {
        busIndex: 0,
        sampleOffset: offset as int32,
        ppqPosition: 0.0,
        flags: 0,
        r#type: kNoteOffEvent as u16,
        __field0: Event__type0 {
            noteOff: NoteOffEvent {
                channel: i16::from(channel),
                pitch: i16::from(key),
                velocity: 0.0,
                noteId: -1,
                tuning: 0.0,
            },
        },
    }
}

impl Drop for Vst3Plugin {
    fn drop(&mut self) {
        if self.state != Vst3State::Inactive {
            let _ = self.deactivate();
        }
        // SAFETY: a live controller and component, inactive; never used again.
        unsafe {
            self.controller.setComponentHandler(std::ptr::null_mut());
            self.component.terminate();
        }
        // The ComPtrs release the plugin's references as the fields drop.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_strings_stop_at_nul() {
        let mut s: String128 = [0; 128];
        for (slot, unit) in s.iter_mut().zip("Bypass".encode_utf16()) {
            *slot = unit;
        }
        assert_eq!(utf16_string(&s), "Bypass");
    }

    #[test]
    fn the_host_names_itself() {
        let host = ComWrapper::new(HostApplication);
        let ptr = host.to_com_ptr::<IHostApplication>().unwrap();
        let mut name: String128 = [7; 128];
        // SAFETY: our own object and a writable string.
        assert_eq!(unsafe { ptr.getName(&mut name) }, kResultOk);
        assert_eq!(utf16_string(&name), HOST_NAME);
    }

    #[test]
    fn event_lists_read_back_what_was_added_in_order() {
        let list = ComWrapper::new(EventList::with_capacity(4));
        let ptr = list.to_com_ptr::<IEventList>().unwrap();
        let mut on = note_on_event(5, 2, 60, 0.5);
        let mut off = note_off_event(9, 2, 60);
        // SAFETY: our own list and valid events.
        unsafe {
            assert_eq!(ptr.addEvent(&mut on), kResultOk);
            assert_eq!(ptr.addEvent(&mut off), kResultOk);
            assert_eq!(ptr.getEventCount(), 2);
            let mut e: Event = std::mem::zeroed();
            assert_eq!(ptr.getEvent(1, &mut e), kResultOk);
            assert_eq!((e.sampleOffset, u32::from(e.r#type)), (9, kNoteOffEvent));
            assert_eq!(e.__field0.noteOff.pitch, 60);
            assert_eq!(ptr.getEvent(2, &mut e), kInvalidArgument);
        }
    }

    #[test]
    fn parameter_changes_group_points_by_parameter_in_offset_order() {
        let changes = ComWrapper::new(ParameterChanges::default());
        let point = |id, offset_samples, value| ParamPoint {
            id,
            offset_samples,
            value,
        };
        changes.set(&[point(7, 30, 1.0), point(3, 0, 0.25), point(7, 10, 0.0)]);
        let ptr = changes.to_com_ptr::<IParameterChanges>().unwrap();
        // SAFETY: our own objects; the queues live while `changes` does.
        unsafe {
            assert_eq!(ptr.getParameterCount(), 2);
            let q = vst3::ComRef::from_raw(ptr.getParameterData(0)).unwrap();
            assert_eq!(q.getParameterId(), 7);
            assert_eq!(q.getPointCount(), 2);
            let (mut offset, mut value) = (0, 0.0);
            assert_eq!(q.getPoint(0, &mut offset, &mut value), kResultOk);
            assert_eq!((offset, value), (10, 0.0));
            assert!(ptr.getParameterData(2).is_null());
            let mut index = -1;
            let added = ptr.addParameterData(&3, &mut index);
            assert_eq!(index, 1);
            assert!(!added.is_null());
        }
        assert_eq!(changes.points().len(), 3);
    }

    #[test]
    fn a_transport_sets_only_the_flags_of_what_it_reports() {
        let t = Vst3Transport {
            playing: true,
            tempo_bpm: Some(90.0),
            position_beats: None,
            bar_start_beats: None,
            time_sig: Some((7, 8)),
            cycle_beats: Some((4.0, 8.0)),
            project_time_samples: 12_345,
        };
        let c = t.to_context(48_000.0);
        assert_eq!(
            c.state,
            kPlaying | kTempoValid | kTimeSigValid | kCycleActive | kCycleValid
        );
        assert_eq!(
            (c.tempo, c.timeSigNumerator, c.timeSigDenominator),
            (90.0, 7, 8)
        );
        assert_eq!((c.projectTimeSamples, c.sampleRate), (12_345, 48_000.0));
        let stopped = Vst3Transport::default().to_context(44_100.0);
        assert_eq!(stopped.state, 0);
    }
}
