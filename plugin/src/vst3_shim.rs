//! Antiphon's VST3 entry: nice-plug's VST3 `Wrapper`, made by a factory of our own that mends one
//! thing in each instance it makes: offline rendering.
//!
//! nice-plug 0.4.2's `IAudioProcessor::setupProcessing` stores the buffer config, process mode
//! included, before it reads the mode of the setup it was given. `setActive` then starts the
//! plugin with the mode of the setup before: a DAW's bounce (`setupProcessing(kOffline)`,
//! `setActive`) ran as real time, so a model slower than the render lost answer notes, and live
//! playback after a bounce ran as offline, where every block waits for the worker.
//!
//! The factory here does what `nice_export_vst3!` does (the same class, the same infos, the same
//! `Wrapper<Antiphon>`), and then points the new object's `IAudioProcessor` at a copy of
//! nice-plug's function table whose `setupProcessing` calls nice-plug's twice with the same
//! setup: the second call stores the mode the first one read. Calling it twice changes nothing
//! else (it only stores the setup), so a fixed nice-plug would be unaffected.
//!
//! The object's table pointer lives in its heap header (one per interface, as `com-scrape`
//! lays a COM object out), so the change is this object's alone; every `queryInterface` for
//! `IAudioProcessor` hands out that same header slot.

use std::ffi::c_void;
use std::sync::OnceLock;

use nice_plug::wrapper::vst3::vst3::Steinberg::Vst::{
    IAudioProcessor, IAudioProcessorVtbl, ProcessSetup,
};
use nice_plug::wrapper::vst3::vst3::Steinberg::{
    FIDString, FUnknown, IPluginFactory, IPluginFactory2, IPluginFactory2Trait, IPluginFactory3,
    IPluginFactory3Trait, IPluginFactoryTrait, PClassInfo, PClassInfo2, PClassInfoW, PFactoryInfo,
    TUID, int32, kInvalidArgument, kResultOk, tresult,
};
use nice_plug::wrapper::vst3::vst3::{Class, ComWrapper};
use nice_plug::wrapper::vst3::{PluginInfo, Wrapper};

use crate::Antiphon;

/// The function table every instance's `IAudioProcessor` points at: nice-plug's, with
/// [`setup_processing_twice`] in place of its `setupProcessing`. Made once, from the first
/// instance (all instances share nice-plug's table).
static PATCHED_VTBL: OnceLock<IAudioProcessorVtbl> = OnceLock::new();
/// nice-plug's own `setupProcessing`, which [`setup_processing_twice`] calls.
static NICE_SETUP_PROCESSING: OnceLock<
    unsafe extern "system" fn(*mut IAudioProcessor, *mut ProcessSetup) -> tresult,
> = OnceLock::new();

/// `IAudioProcessor::setupProcessing` for Antiphon: nice-plug's, twice, so that the buffer
/// config it stores carries this setup's process mode (see the module's text).
unsafe extern "system" fn setup_processing_twice(
    this: *mut IAudioProcessor,
    setup: *mut ProcessSetup,
) -> tresult {
    let Some(nice) = NICE_SETUP_PROCESSING.get() else {
        return kInvalidArgument;
    };
    // SAFETY: the host's pointers go to nice-plug's function unchanged, as the host would pass
    // them; it checks `setup` for null itself.
    let first = unsafe { nice(this, setup) };
    if first != kResultOk {
        return first;
    }
    unsafe { nice(this, setup) }
}

/// Points `object`'s `IAudioProcessor` at [`PATCHED_VTBL`].
///
/// # Safety
/// `object` must be a live `Wrapper<Antiphon>` made by `ComWrapper::new`, not yet handed to a
/// host (nothing calls through its table meanwhile).
unsafe fn patch_setup_processing(object: &ComWrapper<Wrapper<Antiphon>>) {
    let Some(processor) = object.as_com_ref::<IAudioProcessor>() else {
        return;
    };
    let slot = processor.as_ptr();
    // SAFETY: `slot` is this object's `IAudioProcessor` header entry, in its heap allocation,
    // which lives as long as `object`; its table is nice-plug's static one.
    unsafe {
        let nice = *(*slot).vtbl;
        let _ = NICE_SETUP_PROCESSING.set(nice.setupProcessing);
        let patched = PATCHED_VTBL.get_or_init(|| IAudioProcessorVtbl {
            setupProcessing: setup_processing_twice,
            ..nice
        });
        (*slot).vtbl = patched;
    }
}

/// Antiphon's VST3 plugin factory: one class, nice-plug's infos for it.
pub struct Factory {
    /// The class's infos, as nice-plug makes them from [`Antiphon`]'s `Vst3Plugin` constants.
    info: PluginInfo,
}

impl Class for Factory {
    type Interfaces = (IPluginFactory, IPluginFactory2, IPluginFactory3);
}

impl Factory {
    /// The factory with Antiphon's class.
    pub fn new() -> Self {
        Self {
            info: PluginInfo::for_plugin::<Antiphon>(),
        }
    }

    /// Whether `index` names the one class.
    fn is_class(index: int32) -> bool {
        index == 0
    }
}

impl Default for Factory {
    fn default() -> Self {
        Self::new()
    }
}

impl IPluginFactoryTrait for Factory {
    unsafe fn getFactoryInfo(&self, info: *mut PFactoryInfo) -> tresult {
        if info.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: checked for null; the host gives room for one `PFactoryInfo`.
        unsafe { *info = self.info.create_factory_info() };
        kResultOk
    }

    unsafe fn countClasses(&self) -> int32 {
        1
    }

    unsafe fn getClassInfo(&self, index: int32, info: *mut PClassInfo) -> tresult {
        if !Self::is_class(index) || info.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: as in `getFactoryInfo`.
        unsafe { *info = self.info.create_class_info() };
        kResultOk
    }

    unsafe fn createInstance(
        &self,
        cid: FIDString,
        iid: FIDString,
        obj: *mut *mut c_void,
    ) -> tresult {
        if cid.is_null() || obj.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: a class id is 16 bytes.
        let cid = unsafe { &*(cid as *const [u8; 16]) };
        if cid != self.info.cid {
            return kInvalidArgument;
        }
        let object = ComWrapper::new(Wrapper::<Antiphon>::new());
        // SAFETY: the object is new and no host holds it yet.
        unsafe { patch_setup_processing(&object) };
        let Some(unknown) = object.as_com_ref::<FUnknown>() else {
            return kInvalidArgument;
        };
        let ptr = unknown.as_ptr();
        // SAFETY: the host's interface id and out pointer go to the object's own
        // `queryInterface`, which takes the reference the host keeps (the `ComWrapper` here
        // drops its own).
        unsafe { ((*(*ptr).vtbl).queryInterface)(ptr, iid as *const TUID, obj) }
    }
}

impl IPluginFactory2Trait for Factory {
    unsafe fn getClassInfo2(&self, index: int32, info: *mut PClassInfo2) -> tresult {
        if !Self::is_class(index) || info.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: as in `getFactoryInfo`.
        unsafe { *info = self.info.create_class_info_2() };
        kResultOk
    }
}

impl IPluginFactory3Trait for Factory {
    unsafe fn getClassInfoUnicode(&self, index: int32, info: *mut PClassInfoW) -> tresult {
        if !Self::is_class(index) || info.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: as in `getFactoryInfo`.
        unsafe { *info = self.info.create_class_info_unicode() };
        kResultOk
    }

    unsafe fn setHostContext(&self, _context: *mut FUnknown) -> tresult {
        kResultOk
    }
}

/// The VST3 plugin factory entry point.
#[unsafe(no_mangle)]
pub extern "system" fn GetPluginFactory() -> *mut c_void {
    ComWrapper::new(Factory::new())
        .to_com_ptr::<IPluginFactory>()
        .map_or(std::ptr::null_mut(), |p| p.into_raw() as *mut c_void)
}

/// Linux's module entry: sets up nice-plug's logger.
#[allow(missing_docs)]
#[unsafe(no_mangle)]
#[cfg(all(target_family = "unix", not(target_os = "macos")))]
pub extern "C" fn ModuleEntry(_lib_handle: *mut c_void) -> bool {
    nice_plug::wrapper::setup_logger::<Antiphon>();
    true
}

/// Linux's module exit.
#[allow(missing_docs)]
#[unsafe(no_mangle)]
#[cfg(all(target_family = "unix", not(target_os = "macos")))]
pub extern "C" fn ModuleExit() -> bool {
    true
}

/// macOS's bundle entry: sets up nice-plug's logger.
#[allow(missing_docs)]
#[unsafe(no_mangle)]
#[cfg(target_os = "macos")]
pub extern "C" fn bundleEntry(_lib_handle: *mut c_void) -> bool {
    nice_plug::wrapper::setup_logger::<Antiphon>();
    true
}

/// macOS's bundle exit.
#[allow(missing_docs)]
#[unsafe(no_mangle)]
#[cfg(target_os = "macos")]
pub extern "C" fn bundleExit() -> bool {
    true
}

/// Windows's DLL entry: sets up nice-plug's logger.
#[allow(missing_docs)]
#[unsafe(no_mangle)]
#[cfg(target_os = "windows")]
pub extern "system" fn InitDll() -> bool {
    nice_plug::wrapper::setup_logger::<Antiphon>();
    true
}

/// Windows's DLL exit.
#[allow(missing_docs)]
#[unsafe(no_mangle)]
#[cfg(target_os = "windows")]
pub extern "system" fn ExitDll() -> bool {
    true
}
