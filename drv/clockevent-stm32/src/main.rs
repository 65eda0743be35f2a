//! The clockevent driver: Linux's clock event devices (`clock_event_device`) on STM32F4
//! general-purpose timers, served over `idl/clockevent.idol`.
//!
//! Why it is a task of its own: the timer registers are mapped for this
//! task alone (app.toml `uses = ["tim2", "tim4", "tim5"]`), so a fault in
//! the timer server cannot leave a timer half-programmed, and the server
//! stays portable: it sees devices, states and nanoseconds, not registers.
//!
//! Devices (indices of the `dev` argument):
//!
//! | dev | timer | width  | features          | rating | counts at | min delta | max delta    |
//! |-----|-------|--------|-------------------|--------|-----------|-----------|--------------|
//! | 0   | TIM2  | 32-bit | PERIODIC, ONESHOT | 300    | 1 MHz     | 2 µs      | 4294.97 s    |
//! | 1   | TIM4  | 16-bit | PERIODIC          | 100    | 100 kHz   | 20 µs     | 655.35 ms    |
//!
//! and the clocksource, TIM5 (32-bit), counting at `config.clocksource-hz`:
//! 1 MHz in the default apps (wrapping every 71.6 min, so a tickless sleep
//! may last `max_idle_ns` ~ 30 min and 10 s of idle take one interrupt), or
//! the undivided timer clock (1 GHz on QEMU: ns resolution, but wrapping
//! every 4.29 s and `max_idle_ns` 1.91 s). The counting rates are reached with
//! prescalers computed from `config.timer-clock-hz` (QEMU: PSC 999 and 9999;
//! silicon at 84 MHz: 83 and 839); the minimum is two counts, the maximum
//! the counter's range.
//!
//! The timers' update interrupts are not routed here: app.toml gives them to
//! the task that handles ticks (the timer server), which calls `ack`. This
//! driver outranks that task, so each call is served at once.
//!
//! `config.clocksource-start` is the count TIM5 starts from at power-on
//! (applied with the prescaler, so only when `clocksource-hz` is below the
//! timer clock). It is 0 in every app but the hrtimer test, which starts
//! it just before the 32-bit wrap to cross the wrap in seconds instead of
//! 71 minutes. The
//! clocksource still reads time since boot: `read_counter` is the extended
//! count minus that start, so only the hardware wrap moves.
//!
//! `config.qemu-timer-model` selects the QEMU 7.2 register sequences (see
//! `tim.rs`); it must be true exactly when the image runs under QEMU.
//!
//! Guarantees: nothing a client sends can fault this task (bad device
//! indices, transitions and deltas are typed errors; malformed messages are
//! refused by the generated dispatch); every state change is traced in the
//! ring buffer; the clocksource is read on every request served, so it stays
//! exact while requests (or `read_counter` calls) come at least every
//! `max_idle_ns`.

#![no_std]
#![no_main]

mod tim;

/// The clocksource's counting rate (app.toml `config.clocksource-hz`).
const CLOCKSOURCE_HZ: u32 = config::CLOCKSOURCE_HZ;
/// TIM5's count at power-on (app.toml `config.clocksource-start`).
const CLOCKSOURCE_START: u32 = config::CLOCKSOURCE_START;
/// TIM5's prescaler for that rate.
const CLOCKSOURCE_PSC: u16 = {
    let div = config::TIMER_CLOCK_HZ / CLOCKSOURCE_HZ;
    assert!(
        div >= 1 && div <= 65536 && div * CLOCKSOURCE_HZ == config::TIMER_CLOCK_HZ,
        "config.clocksource-hz must divide config.timer-clock-hz (by at most 65536)"
    );
    (div - 1) as u16
};

/// The clocksource's rate as a timing, for its cycles -> ns conversion
/// (`program_event_at`).
const CLOCKSOURCE_TIMING: EventTiming = EventTiming::new(CLOCKSOURCE_HZ, 1, u32::MAX);

use core::convert::Infallible;
use core::sync::atomic::{AtomicU32, Ordering};

use drv_clockevent_api::state::{check_program, switch_state};
use drv_clockevent_api::{
    ClockEventError, ClockEventState, ClocksourceInfo, CounterExtender, DeviceInfo, EventTiming, Transition,
    FEAT_ONESHOT, FEAT_PERIODIC,
};
use idol_runtime::RequestError;
use ringbuf::{ringbuf, ringbuf_entry};
use tim::{Mode, Model, Tim};
use userlib::RecvMessage;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

mod idl {
    use drv_clockevent_api::{ClockEventError, ClocksourceInfo, DeviceInfo};
    include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
}

/// What the ring buffer records: start-up, every state change, refusals
/// and spurious acknowledgements (programmed events are counted in
/// `PROGRAMMED_EVENTS` instead).
#[derive(Copy, Clone, PartialEq)]
enum Trace {
    None,
    /// The driver started; `qemu` is the register model in use.
    Start {
        qemu: bool,
        timer_clock_hz: u32,
    },
    /// QEMU: device `dev`'s model offset was zeroed in `tries` attempts.
    Aligned {
        dev: u8,
        tries: u8,
    },
    /// QEMU: the offset of device `dev` could not be zeroed.
    AlignFailed {
        dev: u8,
    },
    /// Device `dev` entered `state`.
    State {
        dev: u8,
        state: ClockEventState,
    },
    /// Device `dev` runs periodically every `cycles`.
    Periodic {
        dev: u8,
        cycles: u32,
    },
    /// A request for device `dev` was refused.
    Refused {
        dev: u8,
        err: ClockEventError,
    },
    /// `ack` of device `dev`: whether the update flag was set.
    Ack {
        dev: u8,
        fired: bool,
    },
}

ringbuf!(Trace, 32, Trace::None);

/// NVIC numbers of the update interrupts (RM0090, vector table).
const TIM2_IRQ: u32 = 28;
const TIM4_IRQ: u32 = 30;

/// Shortest delay, in counts, either model times correctly (an auto-reload
/// value of 0 stops a silicon counter).
const MIN_CYCLES: u32 = 2;

/// Attempts at zeroing a QEMU model offset (each fails only when a 1 µs
/// tick boundary falls inside a few instructions).
const ALIGN_TRIES: u8 = 16;

/// What distinguishes one device; the rest is derived at start.
struct Spec {
    name: &'static str,
    base: u32,
    /// Counter width in bits (16 or 32).
    bits: u32,
    features: u32,
    rating: u32,
    /// Wanted counting rate, in Hz; the prescaler gets as close as it can.
    target_hz: u32,
    irq: u32,
}

/// TIM2's features: both, unless a test image describes it ONESHOT-only
/// (feature `tim2-oneshot-only`: the timer server then emulates periodic
/// ticks on it).
const TIM2_FEATURES: u32 = if cfg!(feature = "tim2-oneshot-only") { FEAT_ONESHOT } else { FEAT_PERIODIC | FEAT_ONESHOT };

const SPECS: [Spec; 2] = [
    // The ONESHOT-capable, preferred device: 1 µs resolution, 71 min range.
    Spec {
        name: "tim2",
        base: peripherals::TIM2_BASE,
        bits: 32,
        features: TIM2_FEATURES,
        rating: 300,
        target_hz: 1_000_000,
        irq: TIM2_IRQ,
    },
    // The periodic-only fallback, like a PIT: 10 µs steps so that 16 bits
    // reach 655 ms (any HZ from 2 up).
    Spec {
        name: "tim4",
        base: peripherals::TIM4_BASE,
        bits: 16,
        features: FEAT_PERIODIC,
        rating: 100,
        target_hz: 100_000,
        irq: TIM4_IRQ,
    },
];

/// One clock event device.
struct Device {
    tim: Tim,
    info: DeviceInfo,
    timing: EventTiming,
    state: ClockEventState,
    /// The longest oneshot event `program_event_at`'s cycle path may
    /// program, in counts: the device's range and the clocksource's
    /// `max_idle_ns`, whichever is shorter (at least `MIN_CYCLES`).
    max_event_cycles: u32,
}

/// Oneshot events programmed since the driver started (all devices).
/// Counted, not traced: a ring entry per event cost every tickless wake-up
/// and reprogramming add 61 instructions (instruction trace), and the
/// events would push the state changes out of the ring. Read it with
/// `humility readvar PROGRAMMED_EVENTS`.
#[no_mangle]
static PROGRAMMED_EVENTS: AtomicU32 = AtomicU32::new(0);

/// Counts one programmed event. A load and a store: this task is the only
/// writer and has one thread, so nothing can come between them.
#[inline(always)]
fn count_event() {
    PROGRAMMED_EVENTS.store(PROGRAMMED_EVENTS.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

struct Driver {
    model: Model,
    devices: [Device; 2],
    clocksource: Tim,
    clocksource_info: ClocksourceInfo,
    counter: CounterExtender,
}

impl Driver {
    /// Takes the timers over: the clocksource runs (or keeps running), both
    /// devices are stopped with interrupts masked, in DETACHED.
    fn start() -> Self {
        let model = if config::QEMU_TIMER_MODEL { Model::Qemu } else { Model::Silicon };
        let clock_hz = config::TIMER_CLOCK_HZ;
        ringbuf_entry!(Trace::Start { qemu: model == Model::Qemu, timer_clock_hz: clock_hz });

        // Safety: TIM5 is in this task's `uses`, and this is its only `Tim`.
        let clocksource = unsafe { Tim::new(peripherals::TIM5_BASE) };
        let power_on = !clocksource.running();
        clocksource.start_free_running(model);
        let clocksource_info = ClocksourceInfo::new("tim5", 300, CLOCKSOURCE_HZ, 32).with_counter_offset(CLOCKSOURCE_START);

        let max_idle_cycles = CLOCKSOURCE_TIMING.ns_to_cycles_ceil(clocksource_info.max_idle_ns).saturating_sub(1);
        let devices = core::array::from_fn(|i| {
            let spec = &SPECS[i];
            // Safety: TIM2 and TIM4 are in this task's `uses`, one `Tim`
            // each (SPECS names each once).
            let tim = unsafe { Tim::new(spec.base) };
            let (psc, rate_hz) = drv_clockevent_api::calc::prescaler_for(clock_hz, spec.target_hz);
            let max_cycles = u32::MAX >> (32 - spec.bits);
            let timing = EventTiming::new(rate_hz, MIN_CYCLES, max_cycles);
            tim.stop();
            tim.set_update_irq(false);
            tim.clear_update();
            // QEMU: the prescaler is written (and the offset zeroed) once
            // per power-on; a restarted driver finds it set and leaves the
            // zero offset alone. Silicon: `start` loads it each time.
            if model == Model::Silicon || tim.psc() != u32::from(psc) {
                tim.set_prescaler(psc);
                if model == Model::Qemu {
                    match tim.qemu_align(psc, &clocksource, ALIGN_TRIES) {
                        Some(tries) => ringbuf_entry!(Trace::Aligned { dev: i as u8, tries }),
                        None => ringbuf_entry!(Trace::AlignFailed { dev: i as u8 }),
                    }
                }
            }
            let max_event_cycles = u64::from(max_cycles).min(max_idle_cycles).max(u64::from(MIN_CYCLES)) as u32;
            Device {
                tim,
                info: DeviceInfo::new(spec.name, spec.features, spec.rating, &timing, spec.irq),
                timing,
                state: ClockEventState::Detached,
                max_event_cycles,
            }
        });
        // Only now, with the devices aligned against its ns count (QEMU),
        // does the clocksource slow to its own rate.
        let rescaled = clocksource.rescale_free_running(model, CLOCKSOURCE_PSC);
        // Test images (feature `clocksource-wraps-early`): start the
        // counter 0.15 s before its 32-bit wrap, as Linux starts jiffies
        // 5 minutes before theirs, so that the wrap happens within a short
        // run. Only at power-on: a restarted driver finds it counting.
        if cfg!(feature = "clocksource-wraps-early") && power_on {
            clocksource.set_count(0u32.wrapping_sub(CLOCKSOURCE_HZ / 20 * 3));
        }
        // app.toml `clocksource-start`: the counter starts there instead
        // (`counter_now` subtracts it, so the clocksource still reads time
        // since boot; only where the hardware wraps moves).
        if rescaled && CLOCKSOURCE_START != 0 {
            clocksource.set_count(CLOCKSOURCE_START);
        }
        let counter = CounterExtender::new(clocksource.cnt());
        // A restarted driver below the start value: the count wrapped once
        // since power-on (exact while the driver is down for less than a
        // wrap), so the clocksource keeps reading time since boot.
        let counter = if clocksource.cnt() < CLOCKSOURCE_START { counter.with_wraps(1) } else { counter };
        Self { model, devices, clocksource, clocksource_info, counter }
    }

    /// The clocksource's 64-bit count, refreshing the wrap extension.
    fn counter_now(&mut self) -> u64 {
        let raw = self.clocksource.cnt();
        self.counter.extend(raw).wrapping_sub(u64::from(CLOCKSOURCE_START))
    }

    fn device(&mut self, dev: u8) -> Result<&mut Device, ClockEventError> {
        self.devices.get_mut(usize::from(dev)).ok_or(ClockEventError::NoSuchDevice)
    }

    /// Runs `f` on device `dev`, tracing a refusal.
    fn with_device<T>(
        &mut self,
        dev: u8,
        f: impl FnOnce(Model, &mut Device) -> Result<T, ClockEventError>,
    ) -> Result<T, RequestError<ClockEventError>> {
        let model = self.model;
        let result = self.device(dev).and_then(|d| f(model, d));
        if let Err(err) = result {
            ringbuf_entry!(Trace::Refused { dev, err });
        }
        result.map_err(RequestError::Runtime)
    }
}

impl Device {
    /// Applies the rules of `switch_state` for going to `to`; on `Enter`,
    /// `enter` programs the hardware before the state is recorded.
    fn switch(&mut self, dev: u8, to: ClockEventState, enter: impl FnOnce(&Tim)) -> Result<(), ClockEventError> {
        if switch_state(self.state, to, self.info.features)? == Transition::Enter {
            enter(&self.tim);
            self.state = to;
            ringbuf_entry!(Trace::State { dev, state: to });
        }
        Ok(())
    }
}

impl Device {
    /// `program_event`'s work (shared with `program_event_at`): arms the
    /// device for one event `delta_ns` from now. Not inlined: two ops use it.
    #[inline(never)]
    fn program(&mut self, model: Model, delta_ns: i64) -> Result<u64, ClockEventError> {
        check_program(self.state)?;
        // The clamp bounds come from the device's description, computed
        // once at start (`DeviceInfo::new`).
        let (cycles, ns) = self.timing.event_cycles_within(delta_ns, self.info.min_delta_ns, self.info.max_delta_ns)?;
        self.tim.start(model, Mode::Oneshot, cycles);
        count_event();
        Ok(ns)
    }
}

impl Device {
    /// `program_event_at`'s work for a device counting at the clocksource's
    /// rate: arms it `cycles` (> 0) counts from now, clamped to
    /// `max_event_cycles` and to at least the device's minimum. Returns the
    /// delay programmed, in ns.
    fn program_cycles(&mut self, model: Model, cycles: u64) -> Result<u64, ClockEventError> {
        check_program(self.state)?;
        let max = self.max_event_cycles;
        let cycles = if cycles >= u64::from(max) { max } else { (cycles as u32).max(self.timing.min_cycles) };
        self.tim.start(model, Mode::Oneshot, cycles);
        count_event();
        Ok(self.timing.cycles_to_ns_floor(u64::from(cycles)))
    }
}

/// Stops `tim`, masks its interrupt and forgets a pending update.
fn shut(tim: &Tim) {
    tim.stop();
    tim.set_update_irq(false);
    tim.clear_update();
}

impl idl::InOrderClockEventImpl for Driver {
    fn device_count(&mut self, _msg: &RecvMessage) -> Result<u8, RequestError<Infallible>> {
        Ok(self.devices.len() as u8)
    }

    fn describe(&mut self, _msg: &RecvMessage, dev: u8) -> Result<DeviceInfo, RequestError<ClockEventError>> {
        self.with_device(dev, |_, d| Ok(d.info))
    }

    fn state(&mut self, _msg: &RecvMessage, dev: u8) -> Result<u8, RequestError<ClockEventError>> {
        self.with_device(dev, |_, d| Ok(d.state as u8))
    }

    fn set_state_shutdown(&mut self, _msg: &RecvMessage, dev: u8) -> Result<(), RequestError<ClockEventError>> {
        self.with_device(dev, |_, d| d.switch(dev, ClockEventState::Shutdown, shut))
    }

    fn set_state_periodic(
        &mut self,
        _msg: &RecvMessage,
        dev: u8,
        period_ns: u64,
    ) -> Result<u64, RequestError<ClockEventError>> {
        self.with_device(dev, |model, d| {
            // Check everything before touching the hardware: a refused
            // request leaves the device as it was.
            switch_state(d.state, ClockEventState::Periodic, d.info.features)?;
            let (cycles, ns) = d.timing.periodic_cycles(period_ns)?;
            d.switch(dev, ClockEventState::Periodic, |tim| {
                tim.set_update_irq(true);
                tim.start(model, Mode::Periodic, cycles);
            })?;
            ringbuf_entry!(Trace::Periodic { dev, cycles });
            Ok(ns)
        })
    }

    fn set_state_oneshot(&mut self, _msg: &RecvMessage, dev: u8) -> Result<(), RequestError<ClockEventError>> {
        self.with_device(dev, |_, d| {
            d.switch(dev, ClockEventState::Oneshot, |tim| {
                tim.stop();
                tim.clear_update();
                tim.set_update_irq(true);
            })
        })
    }

    fn set_state_oneshot_stopped(&mut self, _msg: &RecvMessage, dev: u8) -> Result<(), RequestError<ClockEventError>> {
        self.with_device(dev, |_, d| {
            d.switch(dev, ClockEventState::OneshotStopped, |tim| {
                tim.stop();
                tim.clear_update();
            })
        })
    }

    fn program_event(
        &mut self,
        _msg: &RecvMessage,
        dev: u8,
        delta_ns: i64,
    ) -> Result<u64, RequestError<ClockEventError>> {
        self.with_device(dev, |model, d| d.program(model, delta_ns))
    }

    fn program_event_at(&mut self, _msg: &RecvMessage, dev: u8, at: u64) -> Result<u64, RequestError<ClockEventError>> {
        let now = self.counter_now();
        let max_idle_ns = self.clocksource_info.max_idle_ns;
        self.with_device(dev, |model, d| {
            // A passed deadline is ETIME, as a delta of 0 is.
            let cycles = at.checked_sub(now).unwrap_or(0);
            if d.timing.rate_hz == CLOCKSOURCE_HZ && cycles > 0 {
                // Same rate (TIM2 and TIM5 at 1 MHz in every app here): no
                // conversion through ns.
                return d.program_cycles(model, cycles);
            }
            let delta_ns = match cycles {
                0 => 0,
                c => CLOCKSOURCE_TIMING.cycles_to_ns_ceil(c).min(max_idle_ns).clamp(1, i64::MAX as u64) as i64,
            };
            d.program(model, delta_ns)
        })
    }

    fn ack(&mut self, _msg: &RecvMessage, dev: u8) -> Result<bool, RequestError<ClockEventError>> {
        self.with_device(dev, |_, d| {
            let fired = d.tim.update_pending();
            if fired {
                d.tim.clear_update();
                if d.state == ClockEventState::Oneshot {
                    // The event happened: on QEMU (no one-pulse mode) this
                    // is what keeps it from repeating; on silicon the counter
                    // has already stopped.
                    d.tim.stop();
                }
            }
            // Only spurious acks are traced: a regular one comes every tick
            // and would flood the ring (and cost the tick path).
            if !fired {
                ringbuf_entry!(Trace::Ack { dev, fired });
            }
            Ok(fired)
        })
    }

    fn read_counter(&mut self, _msg: &RecvMessage) -> Result<u64, RequestError<ClockEventError>> {
        Ok(self.counter_now())
    }

    fn clocksource_info(&mut self, _msg: &RecvMessage) -> Result<ClocksourceInfo, RequestError<Infallible>> {
        Ok(self.clocksource_info)
    }
}

#[export_name = "main"]
fn main() -> ! {
    let mut driver = Driver::start();
    let mut buffer = [0u8; idl::CLOCK_EVENT_MSG_SIZE];
    let mut held = idl::Held::new();
    // The clocksource's wrap count stays current without a read per
    // request: the timer server asks for the counter at least every half
    // `max_idle_ns` (tickless: each `program_event_at` reads it and no
    // sleep is longer; periodic: its keepalive `read_counter`).
    loop {
        idl::dispatch(&mut buffer, &mut held, &mut driver);
    }
}

// The chip description (what the MPU maps) and the register descriptions
// agree on where the timers are.
const _: () = assert!(
    peripherals::TIM2_BASE == stm32_regs::tim::TIM2
        && peripherals::TIM4_BASE == stm32_regs::tim::TIM4
        && peripherals::TIM5_BASE == stm32_regs::tim::TIM5,
    "build/chips and sys/stm32-regs disagree on a timer's base address"
);
